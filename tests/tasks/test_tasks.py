"""Tasks: rt split, user files (csv / jsonl), GLUE column mapping, tokenized loaders."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest
import torch
from transformers import AutoTokenizer

from ladasearch.errors import DataError
from ladasearch.tasks import (
    Example,
    TaskData,
    TaskSpec,
    encode,
    fixed_length_batch,
    load_task,
    make_loader,
)
from ladasearch.tasks._base import carve_dev
from ladasearch.tasks.glue import glue_task_from_splits, load_glue
from ladasearch.tasks.rt import read_reviews, split_by_film

# ---------------------------------------------------------------------------------------------- rt


@pytest.fixture(scope="module")
def rt_task() -> TaskData:
    return load_task(TaskSpec("rt"))


def test_rt_sizes_split_and_labels(rt_task: TaskData) -> None:
    task = rt_task
    sizes = [len(task.train), len(task.dev), len(task.test)]
    assert sum(sizes) == 12_808
    assert sizes == [10_243, 1_283, 1_282]
    assert task.label_names == ("negative", "positive")
    assert task.metrics == ("accuracy",)
    assert {e.label for e in task.train} == {0, 1}
    assert all(e.text and e.text_pair is None for e in task.dev)
    assert "train 10,243" in task.describe()


def test_rt_splits_share_one_label_balance(rt_task: TaskData) -> None:
    shares = [
        sum(e.label for e in split) / len(split)
        for split in (rt_task.train, rt_task.dev, rt_task.test)
    ]
    assert max(shares) - min(shares) < 0.005, shares
    sizes = [len(rt_task.train), len(rt_task.dev), len(rt_task.test)]
    assert [round(n / sum(sizes), 2) for n in sizes] == [0.8, 0.1, 0.1]


def test_rt_no_film_in_two_splits_and_fixed(rt_task: TaskData) -> None:
    reviews = read_reviews()
    assert len({film for film, _ in reviews}) == 508
    films_of_split = []
    for split in split_by_film(reviews):
        ids = {id(e) for e in split}
        films_of_split.append({film for film, e in reviews if id(e) in ids})
    train, dev, test = films_of_split
    assert not (train & dev) and not (train & test) and not (dev & test)
    other_seed = load_task(TaskSpec("rt", seed=7))  # rt ignores the seed: one fixed split
    assert other_seed.fingerprint == rt_task.fingerprint
    assert other_seed.test == rt_task.test


# ------------------------------------------------------------------------------------ csv / jsonl


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_csv_string_labels_and_seeded_dev(tiny_csv: Path) -> None:
    spec = TaskSpec(f"csv:{tiny_csv}", text_column="sentence", label_column="sentiment")
    task = load_task(spec)
    assert task.label_names == ("neg", "pos")
    assert (len(task.train), len(task.dev), len(task.test)) == (324, 36, 40)
    assert not set(task.test) & set(task.dev) and not set(task.test) & set(task.train)
    assert "stratified" in task.describe() and "test = dev" not in task.describe()
    # Stratified: test has the file's label balance (200 / 200 in the fixture).
    assert sum(e.label for e in task.test) == 20
    assert load_task(spec).test == task.test
    assert load_task(spec).fingerprint == task.fingerprint
    reseeded = load_task(TaskSpec(**{**spec.to_dict(), "seed": 1}))
    assert reseeded.dev != task.dev and reseeded.fingerprint != task.fingerprint


def test_a_test_file_is_the_test_split(tmp_path: Path) -> None:
    rows = [{"text": f"s {i}", "label": i % 2} for i in range(40)]
    train = _write_jsonl(tmp_path / "train.jsonl", rows)
    test = _write_jsonl(tmp_path / "test.jsonl", rows[:10])
    task = load_task(TaskSpec(f"jsonl:{train}", test_path=str(test)))
    assert task.test == tuple(Example(f"s {i}", None, i % 2) for i in range(10))
    assert len(task.train) + len(task.dev) == 40


def test_jsonl_integer_labels_pairs_and_dev_file(tmp_path: Path) -> None:
    rows = [{"a": f"first {i}", "b": f"second {i}", "y": [2, 10, 1][i % 3]} for i in range(30)]
    train = _write_jsonl(tmp_path / "train.jsonl", rows)
    dev = _write_jsonl(tmp_path / "dev.jsonl", rows[:6])
    spec = TaskSpec(
        f"jsonl:{train}",
        text_column="a",
        text_pair_column="b",
        label_column="y",
        dev_path=str(dev),
    )
    task = load_task(spec)
    assert task.label_names == ("1", "2", "10")  # numeric order, string names
    assert task.num_labels == 3
    assert len(task.train) == 27 and len(task.dev) == 6 and len(task.test) == 3
    assert task.train[0] == Example("first 0", "second 0", 1)
    assert task.train[1].label == 2


def _bad_cases(tmp: Path) -> list[tuple[str, TaskSpec, str]]:
    """(file name expected in the message, spec, expected fragment)."""
    (tmp / "empty.csv").write_text("", encoding="utf-8")
    (tmp / "header.csv").write_text("text,label\n", encoding="utf-8")
    (tmp / "cols.csv").write_text("sentence,label\nhi,a\nho,b\n", encoding="utf-8")
    (tmp / "one.csv").write_text("text,label\nhi,a\nho,a\n", encoding="utf-8")
    (tmp / "blank.csv").write_text("text,label\nhi,a\n  ,b\n", encoding="utf-8")
    (tmp / "ok.csv").write_text("text,label\nhi,a\nho,b\n", encoding="utf-8")
    (tmp / "empty.jsonl").write_text("", encoding="utf-8")
    (tmp / "broken.jsonl").write_text('{"text": "hi", "label": 0}\n{"text": oops\n')
    (tmp / "float.jsonl").write_text('{"text": "hi", "label": 0.5}\n{"text": "x", "label": 1}\n')
    (tmp / "nocol.jsonl").write_text('{"text": "hi", "label": 0}\n{"txt": "x", "label": 1}\n')
    (tmp / "folder.csv").mkdir()
    return [
        ("missing.csv", TaskSpec(f"csv:{tmp / 'missing.csv'}"), "not found"),
        ("folder.csv", TaskSpec(f"csv:{tmp / 'folder.csv'}"), "not a file"),
        ("empty.csv", TaskSpec(f"csv:{tmp / 'empty.csv'}"), "empty"),
        ("header.csv", TaskSpec(f"csv:{tmp / 'header.csv'}"), "empty"),
        ("cols.csv", TaskSpec(f"csv:{tmp / 'cols.csv'}"), "'text' (columns found: sentence, label"),
        ("one.csv", TaskSpec(f"csv:{tmp / 'one.csv'}"), "fewer than two labels"),
        ("blank.csv", TaskSpec(f"csv:{tmp / 'blank.csv'}"), "line 3: empty text"),
        ("nodev.csv", TaskSpec(f"csv:{tmp / 'ok.csv'}", dev_path=str(tmp / "nodev.csv")), "found"),
        ("empty.jsonl", TaskSpec(f"jsonl:{tmp / 'empty.jsonl'}"), "empty"),
        ("broken.jsonl", TaskSpec(f"jsonl:{tmp / 'broken.jsonl'}"), "line 2: malformed JSON"),
        ("float.jsonl", TaskSpec(f"jsonl:{tmp / 'float.jsonl'}"), "not a string or an integer"),
        ("nocol.jsonl", TaskSpec(f"jsonl:{tmp / 'nocol.jsonl'}"), "line 2: no column 'text'"),
    ]


def test_bad_data_raises_one_line_data_error_naming_the_file(tmp_path: Path) -> None:
    for file_name, spec, fragment in _bad_cases(tmp_path):
        with pytest.raises(DataError) as info:
            load_task(spec)
        message = str(info.value)
        assert file_name in message, message
        assert fragment in message, message
        assert "\n" not in message


def test_unknown_task_lists_the_accepted_forms() -> None:
    with pytest.raises(DataError, match=r"rt, glue/<sst2\|.*csv:PATH, jsonl:PATH"):
        load_task(TaskSpec("imdb"))
    with pytest.raises(DataError, match="regression"):
        load_task(TaskSpec("glue/stsb"))
    with pytest.raises(DataError, match="glue/sst2"):
        load_task(TaskSpec("glue/nope"))


# ------------------------------------------------------------------------------------------- GLUE


def _glue_split(n: int, pair: bool, names: list[str]) -> datasets.Dataset:
    data: dict[str, list[object]] = {"sentence1": [f"s{i}" for i in range(n)]}
    if pair:
        data["sentence2"] = [f"t{i}" for i in range(n)]
    data["label"] = [i % len(names) for i in range(n)]
    data["idx"] = list(range(n))
    features = {"sentence1": datasets.Value("string"), "label": datasets.ClassLabel(names=names)}
    if pair:
        features["sentence2"] = datasets.Value("string")
    features["idx"] = datasets.Value("int32")
    return datasets.Dataset.from_dict(data, features=datasets.Features(features))


def test_glue_mapping_on_in_memory_datasets() -> None:
    names = ["not_equivalent", "equivalent"]
    task = glue_task_from_splits("mrpc", _glue_split(50, True, names), _glue_split(8, True, names))
    assert task.name == "glue/mrpc"
    assert task.label_names == tuple(names)
    assert task.metrics == ("accuracy", "f1")
    assert (len(task.train), len(task.dev), len(task.test)) == (45, 5, 8)
    assert task.test[3] == Example("s3", "t3", 1)
    assert {e.text for e in task.train}.isdisjoint({e.text for e in task.dev})
    other = glue_task_from_splits(
        "mrpc", _glue_split(50, True, names), _glue_split(8, True, names), 1
    )
    assert other.dev != task.dev


def test_glue_single_sentence_and_column_check() -> None:
    sst2 = _glue_split(40, False, ["negative", "positive"]).rename_column("sentence1", "sentence")
    task = glue_task_from_splits("sst2", sst2, sst2.select(range(10)))
    assert (len(task.train), len(task.dev), len(task.test)) == (36, 4, 10)
    assert task.metrics == ("accuracy",) and task.dev[0].text_pair is None
    with pytest.raises(DataError, match="no column 'question1'"):
        glue_task_from_splits("qqp", sst2, sst2)


def test_dev_carve_out_is_capped() -> None:
    examples = [Example(str(i), None, i % 2) for i in range(1000)]
    train, dev = carve_dev(examples, seed=0, max_size=50)  # GLUE: 10 %, at most 2,000
    assert (len(train), len(dev)) == (950, 50)
    assert {e.text for e in train}.isdisjoint(e.text for e in dev)


def test_glue_hub_failure_is_a_data_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise ConnectionError("hub unreachable")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DataError, match=r"could not load glue/sst2 from the Hugging Face hub \("):
        load_glue("sst2")


# --------------------------------------------------------------------------------------- batching


def test_loader_pads_each_batch_to_its_longest(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    examples = [Example("good " * (i + 1), None, i % 2) for i in range(10)]
    encoded = encode(examples, tokenizer, max_length=8)
    assert [len(row) for row in encoded.input_ids][:3] == [3, 4, 5]
    assert max(len(row) for row in encoded.input_ids) == 8  # truncated
    batches = list(make_loader(encoded, 4, shuffle=False))
    assert [b["input_ids"].shape for b in batches] == [(4, 6), (4, 8), (2, 8)]
    first = batches[0]
    assert first["attention_mask"].sum(dim=1).tolist() == [3, 4, 5, 6]
    assert first["labels"].dtype == torch.long and first["labels"].tolist() == [0, 1, 0, 1]
    assert set(first) == {"input_ids", "attention_mask", "token_type_ids", "labels"}


def test_loader_shuffle_is_seeded_and_pairs_get_segment_ids(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    examples = [Example("good film", "bad plot", i) for i in range(20)]
    encoded = encode(examples, tokenizer)

    def order(seed: int) -> list[int]:
        loader = make_loader(encoded, 5, shuffle=True, seed=seed)
        return [label for batch in loader for label in batch["labels"].tolist()]

    assert order(3) == order(3)
    assert order(3) != order(4)
    assert sorted(order(3)) == list(range(20))
    assert encoded.token_type_ids is not None and encoded.token_type_ids[0] == [0] * 4 + [1] * 3


def test_fixed_length_batch(tiny_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    batch = fixed_length_batch(tokenizer, 3, 16)
    assert batch["input_ids"].shape == (3, 16)
    assert int(batch["attention_mask"].sum()) == 48
