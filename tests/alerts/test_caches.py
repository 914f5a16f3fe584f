"""The bounded dict behind the normaliser's word caches."""

from alerts.core.caches import BoundedDict
from alerts.search import textnorm


def test_a_bounded_cache_starts_again_from_empty_when_full():
    cache: BoundedDict[str, int] = BoundedDict(3)
    for n, key in enumerate("abc"):
        assert cache.put(key, n) == n
    assert cache == {"a": 0, "b": 1, "c": 2}
    cache.put("d", 3)
    assert cache == {"d": 3}


def test_the_word_caches_are_bounded_and_give_the_same_words_once_emptied():
    for cache in (textnorm._stems, textnorm._words, textnorm._plain, textnorm._chunks):
        assert isinstance(cache, BoundedDict)
        assert cache.limit == textnorm._CACHE_LIMIT
    text = "Self-supervised models, LLMs and state-of-the-art diffusion."
    before = textnorm.analyse(text)
    for cache in (textnorm._stems, textnorm._words, textnorm._plain, textnorm._chunks):
        cache.clear()
    assert textnorm.analyse(text) == before
