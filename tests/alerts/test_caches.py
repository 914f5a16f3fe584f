"""The bounded caches of alerts.core.caches: the count-bounded dict behind the normaliser's
word caches, and the byte-bounded one of the matcher."""

from alerts.core.caches import BoundedDict, BytesBoundedDict
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


def size(key: str, value: bytes) -> int:
    return len(key) + len(value)


def test_storing_past_the_budget_evicts_the_oldest_entries_down_to_three_quarters():
    cache = BytesBoundedDict(100, size)
    for n in range(10):
        cache.put(f"k{n}", b"x" * 8)  # 10 bytes each: exactly the budget
    assert len(cache) == 10
    assert cache.used == 100
    assert cache.put("k10", b"y" * 8) == b"y" * 8
    assert list(cache) == [f"k{n}" for n in range(4, 11)]  # down to 3/4 of the budget, oldest first
    assert cache.used == 71 == sum(size(k, v) for k, v in cache.items())


def test_an_entry_larger_than_the_budget_is_returned_not_kept_and_a_key_stored_again_is_counted_once():
    cache = BytesBoundedDict(100, size)
    assert cache.put("big", b"z" * 200) == b"z" * 200
    assert "big" not in cache
    assert cache.used == 0
    cache.put("a", b"1234")
    cache.put("a", b"12345678")
    assert cache == {"a": b"12345678"}
    assert cache.used == 9
    cache.clear()
    assert cache.used == 0
    assert not cache


def test_a_batch_is_counted_like_its_entries_stored_one_by_one_and_evicts_the_same_way():
    cache = BytesBoundedDict(100, size)
    cache.put("a", b"1234")
    batch = {f"k{n}": b"x" * 8 for n in range(9)} | {"a": b"12345678"}
    cache.put_many(batch, sum(size(k, v) for k, v in batch.items()))
    assert cache.used == 99 == sum(size(k, v) for k, v in cache.items())  # "a" counted once
    cache.put_many({"k9": b"y" * 8}, 10)
    assert cache.used <= 75
    assert cache.used == sum(size(k, v) for k, v in cache.items())
    assert "k9" in cache
    assert "k0" not in cache  # the oldest went first
