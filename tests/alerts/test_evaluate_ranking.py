"""`manage.py evaluate_ranking --set PATH [--json]` on small labelled sets made here."""

import datetime as dt
import gzip
import io
import itertools
import json
import os
import random
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from alerts.search import evaluation
from tests.servers import ROOT

READERS = ["cs.IR", "RAG", "RL", "LongContext", "cs.CL only", "RL and cs.CL"]
AREAS = {
    # words, listings, topics
    "retrieval": ("retrieval ranking search query documents index recommendation", ["cs.IR"], ["LLM"]),
    "rag": ("retrieval augmented generation passages grounding knowledge", ["cs.CL", "cs.IR"], ["RAG"]),
    "rl": ("reinforcement learning reward policy agent optimisation", ["cs.CL"], ["RL"]),
    "rl-ai": ("reinforcement learning reward policy planning control", ["cs.AI"], ["RL"]),
    "long": ("long context window attention memory tokens extrapolation", ["cs.CL"], ["LongContext"]),
    "nlp": ("translation parsing syntax dialogue sentiment corpus", ["cs.CL"], []),
    "ai": ("planning logic reasoning agents knowledge ontology", ["cs.AI"], []),
}
FILLER = [
    "we",
    "propose",
    "a",
    "new",
    "method",
    "and",
    "show",
    "strong",
    "results",
    "on",
    "several",
    "benchmarks",
]


def labelled_set(days: int = 8, per_day: int = 30, seed: int = 5) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    start = dt.date(2025, 10, 1)
    for d in range(days):
        for n in range(per_day):
            area = rng.choice(sorted(AREAS))
            words, listings, topics = AREAS[area]
            vocabulary = words.split()
            rows.append(
                {
                    "arxiv_id": f"2510.{d:02d}{n:03d}",
                    "day": (start + dt.timedelta(days=d)).isoformat(),
                    "title": " ".join(rng.sample(vocabulary, 3)),
                    "authors": [f"Author {rng.randint(1, 40)}"],
                    "abstract": " ".join(rng.choice(vocabulary + FILLER) for _ in range(30)),
                    "listings": listings,
                    "topics": topics,
                }
            )
    return rows


def write(path, rows, *, gzipped: bool):
    text = "".join(json.dumps(row) + "\n" for row in rows)
    path.write_bytes(gzip.compress(text.encode()) if gzipped else text.encode())
    return path


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("evaluate_ranking", *args, stdout=out)
    return out.getvalue()


def test_json_figures_from_a_gzip_set_and_the_same_from_plain_json_lines(tmp_path):
    rows = labelled_set()
    gzipped = write(tmp_path / "set.jsonl.gz", rows, gzipped=True)
    plain = write(tmp_path / "set.jsonl", rows, gzipped=False)

    figures = json.loads(run("--set", str(gzipped), "--json"))

    assert set(figures) == {"readers", "mean"}
    assert list(figures["readers"]) == READERS
    for name, reader in figures["readers"].items():
        assert set(reader) == {"ours", "baseline", "base_rate"}, name
        assert 0 <= reader["ours"] <= 1
        assert 0 <= reader["baseline"] <= 1
    assert set(figures["mean"]) == {"ours", "baseline"}
    # Base rates are the share of papers each reader likes.
    cs_ir = sum("cs.IR" in r["listings"] for r in rows) / len(rows)
    cl_only = sum(r["listings"] == ["cs.CL"] for r in rows) / len(rows)
    assert figures["readers"]["cs.IR"]["base_rate"] == round(cs_ir, 4)
    assert figures["readers"]["cs.CL only"]["base_rate"] == round(cl_only, 4)
    # The words tell the areas apart: after a few days, the top of each digest is what the reader likes.
    assert figures["mean"]["ours"] > 0.8
    for method in ("ours", "baseline"):
        per_reader = [r[method] for r in figures["readers"].values()]
        assert figures["mean"][method] == pytest.approx(sum(per_reader) / len(per_reader), abs=1e-3)
    # A fixed seed: the same set gives the same figures, gzip or not.
    assert json.loads(run("--set", str(plain), "--json")) == figures


def test_the_table_gives_each_reader_with_its_standard_error_and_the_base_rate(tmp_path):
    path = write(tmp_path / "set.jsonl", labelled_set(), gzipped=False)
    out = run("--set", str(path))
    lines = out.splitlines()
    for name in READERS:
        row = next(line for line in lines if line.startswith(name + " "))
        assert row.count("±") == 2
    assert any(line.startswith("mean ") for line in lines)
    assert "ours / baseline:" in out
    assert "The labels are coarse" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"arxiv_id": "1", "day": "2025-10-01", "title": "t"\n', "line 1: not JSON"),
        ('{"arxiv_id": "1", "day": "2025-10-01", "title": "t"}\n', "line 1: missing or non-text 'abstract'"),
        ("[1, 2]\n", "line 1: expected a JSON object"),
        (
            '{"arxiv_id": "1", "day": "yesterday", "title": "t", "abstract": "a"}\n',
            "'day' must be an ISO date (YYYY-MM-DD), got 'yesterday'",
        ),
        (
            '{"arxiv_id": "1", "day": "2025-10-01", "title": "t", "abstract": "a", "authors": "Ann"}\n',
            "line 1: 'authors' must be a list of strings",
        ),
        ("\n", "no papers"),
        (
            '{"arxiv_id": "1", "day": "2025-10-01", "title": "t", "abstract": "a"}\n',
            "1 days; the protocol needs more",
        ),
    ],
)
def test_a_malformed_set_is_refused_with_status_1_and_says_why(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(CommandError) as raised:
        run("--set", str(path), "--json")
    assert raised.value.returncode == 1
    assert message in str(raised.value)


def test_the_command_exits_1_with_one_clear_line(tmp_path):
    path = tmp_path / "broken.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"arxiv_id": "1"}\n')[:20])  # truncated gzip
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings.test")
    done = subprocess.run(
        [sys.executable, "manage.py", "evaluate_ranking", "--set", str(path), "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith(f"CommandError: {path}: cannot read it")
    assert done.stderr.count("\n") == 1


def test_the_informed_replay_learns_from_every_earlier_label_not_only_the_votes(tmp_path):
    """Papers the reader likes appear from day 6 on, two a day among a hundred: no digest
    shows one, so the votes never teach either method; taught every earlier paper's label,
    both rank them first from the day after the first ones appeared."""
    others = [row for row in labelled_set(days=9, per_day=100) if "RL" not in row["topics"]]
    liked = [row for row in labelled_set(days=9, per_day=100, seed=6) if row["topics"] == ["RL"]]
    late = [row for row in liked if row["day"] >= "2025-10-06"]
    two_a_day = [row for _, rows in itertools.groupby(late, key=lambda r: r["day"]) for row in list(rows)[:2]]
    rows = sorted(others + two_a_day, key=lambda row: row["day"])
    papers = evaluation.load_set(write(tmp_path / "set.jsonl", rows, gzipped=False))
    readers = {"RL": evaluation.READERS["RL"]}

    (voted,) = evaluation.evaluate(papers, readers=readers).readers
    (informed,) = evaluation.evaluate(papers, readers=readers, informed=True).readers

    for method in ("ours", "baseline"):
        assert voted.daily[method] == [0.0, 0.0, 0.0, 0.0], method
        assert informed.daily[method] == [0.0, 1.0, 1.0, 1.0], method
