"""The search service: study files, eq.-7 search spaces, Ray Tune + Optuna orchestration, storage.

Import as ``ladasearch.search.<module>``: :mod:`~ladasearch.search.study_file` (YAML schema),
:mod:`~ladasearch.search.space` (constraint-aware space and the two baselines),
:mod:`~ladasearch.search.studydb` (the study database: URLs, storages, trial records), :mod:`~ladasearch.search.trainable`
(one trial), :mod:`~ladasearch.search.searcher` (OptunaSearch with honest states),
:mod:`~ladasearch.search.resume` (stale trials), :mod:`~ladasearch.search.orchestrator`
(``run_study``) and :mod:`~ladasearch.search.summary` (``studies`` / ``show`` data). The package
imports nothing heavy itself.
"""

__all__: list[str] = []
