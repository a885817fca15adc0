"""The pure ranking functions of ConversationMemory."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from memstore import ValidationError
from memstore.memory import ranking


def test_minmax_rescales_to_unit_interval() -> None:
    assert ranking.minmax({"a": 2.0, "b": 4.0, "c": 3.0}) == {"a": 0.0, "b": 1.0, "c": 0.5}
    assert ranking.minmax({"a": 7.0}) == {"a": 1.0}
    assert ranking.minmax({"a": 1.0, "b": 1.0}) == {"a": 1.0, "b": 1.0}
    assert ranking.minmax({}) == {}


def test_fuse_weights_and_missing_candidates() -> None:
    dense = {"a": 0.9, "b": 0.5}
    keyword = {"b": 10.0, "c": 2.0}
    fused = ranking.fuse(dense, keyword, dense_weight=0.5, keyword_weight=0.5)
    assert fused == pytest.approx({"a": 0.5, "b": 0.5, "c": 0.0})
    fused = ranking.fuse(dense, keyword, dense_weight=0.25, keyword_weight=0.75)
    assert fused == pytest.approx({"a": 0.25, "b": 0.75, "c": 0.0})
    # First in both lists scores exactly 1.
    assert ranking.fuse({"a": 1.0, "b": 0.0}, {"a": 3.0, "b": 1.0})["a"] == pytest.approx(1.0)


def test_fuse_rrf() -> None:
    fused = ranking.fuse({"a": 0.9, "b": 0.5}, {"a": 3.0, "c": 1.0}, method="rrf", rrf_k=60)
    assert fused["a"] == pytest.approx(1.0)
    assert fused["b"] == pytest.approx(0.5 * 61 / 62)
    assert fused["c"] == pytest.approx(0.5 * 61 / 62)
    assert ranking.ordered(fused)[0] == ("a", pytest.approx(1.0))


def test_fuse_rejects_bad_weights() -> None:
    with pytest.raises(ValidationError):
        ranking.fuse({}, {}, dense_weight=0, keyword_weight=0)
    with pytest.raises(ValidationError):
        ranking.fuse({}, {}, dense_weight=-1)
    with pytest.raises(ValidationError):
        ranking.fuse({}, {}, method="max")  # type: ignore[arg-type]


def test_recency_decay_halves_per_half_life() -> None:
    now = datetime(2024, 1, 10, tzinfo=timezone.utc)
    created = {"new": now, "old": now - timedelta(days=2)}
    decayed = ranking.recency_decay({"new": 1.0, "old": 1.0}, created, half_life_days=2)
    assert decayed == pytest.approx({"new": 1.0, "old": 0.5})
    assert ranking.recency_decay({"x": 0.3}, {"x": now}, None) == {"x": 0.3}


def test_ordered_breaks_ties_by_key() -> None:
    assert ranking.ordered({"b": 1.0, "a": 1.0, "c": 2.0}) == [("c", 2.0), ("a", 1.0), ("b", 1.0)]


def test_bm25_prefers_rare_terms_and_short_documents() -> None:
    docs = [
        ("1", ranking.tokenize("the cat sat on the mat")),
        ("2", ranking.tokenize("the dog barked at the cat all day long in the yard")),
        ("3", ranking.tokenize("a zebra")),
    ]
    index = ranking.BM25(docs)
    scores = index.scores(ranking.tokenize("cat"))
    assert set(scores) == {"1", "2"}
    assert scores["1"] > scores["2"]  # same tf, shorter document
    assert index.scores(ranking.tokenize("zebra cat"))["3"] > scores["1"]  # rarer term weighs more
    assert index.scores(["unknown"]) == {}
    assert ranking.BM25([]).scores(["x"]) == {}


def test_content_tokens_and_cosine() -> None:
    assert ranking.content_tokens(["when", "did", "caroline", "paint"]) == ["caroline", "paint"]
    assert ranking.content_tokens(["what", "is", "it"]) == ["what", "is", "it"]  # all stopwords: keep them
    rows = [[1.0, 0.0], [0.0, 2.0], [-2.0, 0.0], [0.0, 0.0]]
    assert ranking.cosines([1.0, 0.0], rows).tolist() == pytest.approx([1.0, 0.0, -1.0, 0.0])
    assert ranking.cosines([3.0, 4.0], [[6.0, 8.0]]).tolist() == pytest.approx([1.0])
    assert ranking.cosines([0.0, 0.0], [[1.0, 1.0]]).tolist() == [0.0]


def test_keyword_query_builders_quote_every_token() -> None:
    from memstore.backends.sql.keyword import fts5_query, tsquery_text

    assert (
        fts5_query('When did "Mel" go  camping? NEAR(x) OR *')
        == '"mel" OR "go" OR "camping" OR "near" OR "x"'
    )
    assert fts5_query("?!") is None
    assert tsquery_text("it's a_b & c:* | zed") == "b | c | zed"
    assert tsquery_text("   ") is None


def test_neighbour_boost() -> None:
    slots = {"a": ("c", 0), "b": ("c", 1), "c": ("c", 3), "x": ("other", 1)}
    boosted = ranking.neighbour_boost({"a": 1.0, "x": 0.5}, slots, weight=0.4, radius=2)
    scale = 1 + 0.4 + 0.2
    assert boosted == pytest.approx({"a": 1 / scale, "b": 0.4 / scale, "c": 0.0, "x": 0.5 / scale})
    # Each distance takes the better side; another conversation's position 0 is no neighbour of "x".
    both = ranking.neighbour_boost({"a": 1.0, "c": 0.5}, slots, weight=0.4, radius=2)
    assert both["b"] == pytest.approx((0.4 * 1.0 + 0.2 * 0.5) / scale)
    assert both["a"] == pytest.approx(1.0 / scale)
    assert both["c"] == pytest.approx((0.5 + 0.2 * 0.0) / scale)
    assert ranking.neighbour_boost({"a": 0.7}, {"a": ("c", 0), "b": ("c", 1)}, 0.0, 2) == {"a": 0.7, "b": 0.0}
    with pytest.raises(ValidationError):
        ranking.neighbour_boost({}, {}, -0.1, 1)
