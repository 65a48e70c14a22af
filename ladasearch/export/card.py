"""The model card (``README.md``) of an export: what it is, its metrics against the teacher,
how to load it, as a huggingface_hub ``ModelCard`` (its YAML header is the Hub's metadata:
library, pipeline tag, tags) so the folder uploads to the Hub as it is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from huggingface_hub import ModelCard, ModelCardData

from ladasearch.export.config import CONFIG_STEM
from ladasearch.stats import weak_student_warning

__all__ = ["RETRAINED_NOTE", "model_card"]

RETRAINED_NOTE = "retrained from the configuration (the trial's model was not kept)"

# ---------------------------------------------------------------------------------------------
# the model card


def _fmt(value: Any, kind: str = "float") -> str:
    if value is None:
        return "–"
    if kind == "count":
        return f"{value / 1e6:.2f}M" if value >= 1e5 else f"{int(value):,}"
    if kind == "ms":
        return f"{value:.1f} ms"
    return f"{value:.4f}"


def model_card(config: Mapping[str, Any], folder_name: str = "DIR") -> str:
    """The README.md of an export: what it is, its metrics against the teacher, how to load it."""
    metrics, teacher, source = config["metrics"], config["teacher"], config["source"]
    ratios = config["ratios"]
    params, teacher_params = metrics.get("params"), teacher.get("params")
    factor = f"{teacher_params / params:.1f}x" if params and teacher_params else "?"
    rows = [
        ("dev accuracy", _fmt(teacher.get("accuracy")), _fmt(metrics.get("accuracy"))),
        ("test accuracy", _fmt(teacher.get("test_accuracy")), _fmt(metrics.get("test_accuracy"))),
        ("majority class, test", *[_fmt(metrics.get("majority_test_accuracy"))] * 2),
        (
            "nonzero parameters",
            _fmt(teacher_params, "count"),
            f"{_fmt(params, 'count')} ({factor} smaller)",
        ),
        (
            "latency, batch 1",
            _fmt(teacher.get("latency_ms"), "ms"),
            _fmt(metrics.get("latency_ms"), "ms"),
        ),
    ]
    if metrics.get("latency_ms_b32") is not None:
        rows.append(("latency, batch 32", "–", _fmt(metrics["latency_ms_b32"], "ms")))
    table = ["| | teacher | this model |", "| --- | --- | --- |"]
    table += [f"| {name} | {a} | {b} |" for name, a, b in rows]
    task = config.get("task")
    task_name = task.get("name") if isinstance(task, Mapping) else task
    schedule = config["schedule"].get("trial") or {}
    schedule_text = ", ".join(f"{k} {v}" for k, v in schedule.items()) or "see the config file"
    retrained = (
        f"\n> This model was {RETRAINED_NOTE}; the metrics above are the retrained model's.\n"
        if source.get("retrained")
        else ""
    )
    weak = weak_student_warning(metrics)
    notes = retrained + (f"\n> {weak}\n" if weak is not None else "")
    layout = config.get("matrices") or []
    ranks = sorted({m["rank"] for m in layout if m.get("rank") is not None})
    versions = ", ".join(f"{k} {v}" for k, v in config["versions"].items())
    body = f"""# LadaBERT-compressed {config.get("model")} for {task_name}

Trial {source["trial_number"]} of the ladasearch study `{source["study"]}`: the model compressed
{factor} (P_embd {ratios["p_embd"]:.4f}, P_svd {ratios["p_svd"]:.4f}, P_weight {ratios["p_weight"]:.4f})
by SVD factorization, magnitude pruning and knowledge distillation (LadaBERT).
{notes}
## Metrics

{chr(10).join(table)}

## Compression

- ratios: P_embd {ratios["p_embd"]:.4f}, P_svd {ratios["p_svd"]:.4f}, P_weight {ratios["p_weight"]:.4f}
- {len(layout)} compressed matrices; ranks used: {", ".join(map(str, ranks)) or "none (dense)"}
  (every matrix's rank and sparsity are in `{CONFIG_STEM}.yaml`)
- schedule: {schedule_text}

## Use it

```python
import ladasearch

classifier = ladasearch.load("{folder_name}")
print(classifier.predict(["a gripping, beautifully acted film"]))
```

```bash
ladasearch predict {folder_name} --text "a gripping, beautifully acted film"
```

## Provenance

- study `{source["study"]}`, trial number {source["trial_number"]} (id {source["trial_id"]})
- exported {source["exported_at"]}
- {versions}
"""
    metadata = ModelCardData(
        library_name="transformers",
        pipeline_tag="text-classification",
        tags=["ladasearch", "ladabert", "compressed", "knowledge-distillation"],
    )
    return str(ModelCard(f"---\n{metadata.to_yaml()}\n---\n{body}"))
