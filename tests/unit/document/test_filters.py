import pytest

from shoal import Document, DocumentArray
from shoal.document.filters import And, Cond, parse_filter
from shoal.errors import InvalidFilterError


@pytest.fixture
def da():
    return DocumentArray([
        Document(id="a", text="apple pie", mime_type="text/plain", tags={"price": 5, "color": "red", "dims": {"w": 1}}),
        Document(id="b", text="banana", modality="text", tags={"price": 12.5, "color": "yellow"}),
        Document(id="c", text="cherry", tags={"color": "red", "dims": {"w": 3}}),
    ])


@pytest.mark.parametrize("query, ids", [
    ({"tags__price": {"$eq": 5}}, ["a"]),
    ({"tags__price": {"$ne": 5}}, ["b", "c"]),
    ({"tags__price": {"$gt": 5}}, ["b"]),
    ({"tags__price": {"$gte": 5}}, ["a", "b"]),
    ({"tags__price": {"$lt": 12.5}}, ["a"]),
    ({"tags__price": {"$lte": 12.5}}, ["a", "b"]),
    ({"tags__color": {"$in": ["red"]}}, ["a", "c"]),
    ({"tags__color": {"$nin": ["red"]}}, ["b"]),
    ({"text": {"$regex": "^b"}}, ["b"]),
    ({"tags__price": {"$exists": False}}, ["c"]),
    ({"tags__dims__w": {"$gt": 2}}, ["c"]),
    ({"mime_type": {"$eq": "text/plain"}}, ["a"]),
    ({"modality": {"$exists": True}}, ["b"]),
    ({"$and": [{"tags__color": {"$eq": "red"}}, {"tags__price": {"$exists": True}}]}, ["a"]),
    ({"$or": [{"tags__price": {"$gt": 10}}, {"text": {"$eq": "cherry"}}]}, ["b", "c"]),
    ({"$not": {"tags__color": {"$eq": "red"}}}, ["b"]),
    ({"tags__color": "yellow"}, ["b"]),
    ({"tags__color": {"$eq": "red"}, "tags__dims__w": {"$eq": 1}}, ["a"]),
])
def test_operators(da, query, ids):
    assert da.find(filter=query).ids == ids


@pytest.mark.parametrize("query, message", [
    ({"tags__x": {"$near": 1}}, "unknown operator"),
    ({"nofield": {"$eq": 1}}, "cannot filter on field"),
    ({"tags__x": {"$in": 3}}, "needs a list"),
    ({"text": {"$regex": "("}}, "bad \\$regex"),
    ({"$and": []}, "non-empty list"),
    ([("text", 1)], "non-empty dict"),
])
def test_bad_filters_are_explained(da, query, message):
    with pytest.raises(InvalidFilterError, match=message):
        da.find(filter=query)


def test_empty_filter_is_no_filter_as_in_docarray(da):
    """DocArray's find({}) / find(q, filter={}) (parameters.get('filter', {})): everything."""
    assert da.find({}).ids == da.ids
    assert da.find(filter={}, limit=1).ids == da.ids[:1]
    with pytest.raises(InvalidFilterError, match="non-empty dict"):
        parse_filter({})


def test_parse_gives_an_ast():
    node = parse_filter({"tags__a__b": {"$gt": 1, "$lt": 5}})
    assert node == And((Cond(("tags", "a", "b"), "$gt", 1), Cond(("tags", "a", "b"), "$lt", 5)))
