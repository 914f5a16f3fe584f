"""The text normaliser shared by the index and the queries."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.search import textnorm
from alerts.search.textnorm import analyse, highlight_spans


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Diffusion Models", ["diffus", "model"]),
        ("diffusions model", ["diffus", "model"]),
        ("Bernhard Schölkopf and Scholkopf", ["bernhard", "scholkopf", "and", "scholkopf"]),
        ("Łukasz Øksendal Straße", ["lukasz", "oksend", "strass"]),  # stemmed: text, not a name
        ("Scho\u0308lkopf", ["scholkopf"]),  # decomposed accent
        ("self-supervised learning", ["self", "supervis", "learn"]),
        ("speedup up to 139.6$\\times$.", ["speedup", "up", "to", "139", "6"]),
        ("$\\mathcal{O}(n^2)$ cost", ["o", "n", "2", "cost"]),
        ("LLMs and GPUs; llms, CNNs", ["llm", "and", "gpu", "llm", "cnn"]),
        # an acronym's plural in lower case or all capitals normalises like the mixed-case one
        ("gpus GPUS CPUs cpus LMs lms KGs kgs", ["gpu", "gpu", "cpu", "cpu", "lm", "lm", "kg", "kg"]),
        ("plus thus Thus bus", ["plus", "thus", "thus", "bus"]),
        ("LeCun's model", ["lecun", "model"]),
        ("state-of-the-art", ["state", "of", "the", "art"]),
        ("-based --- x-", ["base", "x"]),
        ("", []),
    ],
)
def test_index_tokens(text, expected):
    assert analyse(text)[0] == expected


def test_a_compound_keeps_its_joined_form_beside_the_positions():
    stream, compounds = textnorm.analyse("We use self-supervised learning.")
    assert stream == ["we", "use", "self", "supervis", "learn"]
    assert {at: w.joined for at, w in compounds.items()} == {2: "selfsupervis"}


def test_names_are_folded_not_stemmed():
    assert textnorm.name_tokens("Adrian Del Maestro") == ["adrian", "del", "maestro"]
    assert textnorm.name_tokens("del_maestro") == ["del", "maestro"]
    assert textnorm.name_tokens("Jules Adams") == ["jules", "adams"]
    assert textnorm.name_tokens("Nguyễn Văn An") == ["nguyen", "van", "an"]


def _shown(text, terms):
    return [text[start:end] for start, end in highlight_spans(text, terms)]


def test_highlight_spans_point_into_the_original_text():
    text = "Self-supervised Diffusion Models: generative models of Jülich data at 4$\\times$ speed."
    assert _shown(text, ["diffus", "model"]) == ["Diffusion", "Models", "models"]
    assert _shown(text, ["selfsupervis"]) == ["Self-supervised"]
    assert _shown(text, ["supervis"]) == ["supervised"]
    assert _shown(text, ["generati*"]) == ["generative"]
    assert _shown(text, ["julich"]) == ["Jülich"]
    assert _shown(text, ["time"]) == []  # \times is markup, not the word
    assert _shown(text, []) == []


def test_highlight_spans_in_decomposed_text():
    text = "Scho\u0308lkopf wrote it"
    assert _shown(text, ["scholkopf"]) == ["Scho\u0308lkopf"]


words = st.text(alphabet=st.sampled_from("aAbZé-' $\\.,xy9"), max_size=40)


@given(words)
def test_the_fast_ascii_path_reads_text_like_the_regular_expression(text):
    """analyse() has a faster reading for ASCII text; it must find exactly the same words."""
    expected = [part for raw in textnorm._WORD_RE.findall(text) if raw for part in textnorm.word(raw).parts]
    assert textnorm.analyse(text)[0] == expected
    assert textnorm.analyse(text)[0] == expected  # again, from the caches
    assert [w.parts for w in textnorm.words(text)] == [
        textnorm.word(raw).parts for raw in textnorm._WORD_RE.findall(text) if raw
    ]


# Any character class the batch reading treats apart: non-ASCII letters and punctuation,
# combining accents, LaTeX, NUL, white space of other scripts, a lone surrogate.
BATCH_CHARACTERS = [
    *"aAbZs9 -'\\$._,",
    *("é", "e\u0301", "\u0301", "\u2010", "\u2011", "\u2019", "\u2014", "κ", "²", "ß", "ﬁ", "Ł"),
    *("\u00a0", "\u3000", "\x85", "\0", "\ud800", "\t", "\n"),
]
batch_texts = st.lists(st.lists(st.sampled_from(BATCH_CHARACTERS), max_size=40).map("".join), max_size=5)


@given(batch_texts)
def test_the_batch_reading_of_many_texts_finds_the_words_of_each(texts):
    """A paper index cuts all of a day's texts at once (joined_chunks) and reads each distinct
    chunk once: the same words, text by text, as `words` finds in each text alone."""
    found, current = [], []
    for chunk in textnorm.joined_chunks(texts):
        if chunk == textnorm.BOUNDARY:
            found.append(current)
            current = []
        else:
            current.extend(textnorm.chunk_words(chunk))
    assert current == []
    assert found == [textnorm.words(text) for text in texts]
    plain = [chunk for chunk in textnorm.joined_chunks(texts) if chunk.isalnum()]
    assert textnorm.plain_forms(plain) == (
        [textnorm.word(chunk).surface[0] for chunk in plain],
        [textnorm.word(chunk).parts[0] for chunk in plain],
    )


@given(batch_texts)
def test_the_names_of_a_day_read_at_once_are_read_as_each_alone(names):
    assert textnorm.names_tokens(names) == [tuple(textnorm.name_tokens(name)) for name in names]
