"""The model's plain data survives the trip to a Dask worker (pickle) unchanged."""
import pickle

from sciflow.model import IOFile, NamedList, Wildcards


def test_wildcards_pickle_as_wildcards():
    wc = pickle.loads(pickle.dumps(Wildcards({"sample": "a", "n": "1"})))
    assert type(wc) is Wildcards
    assert wc.as_dict() == {"sample": "a", "n": "1"} and wc.sample == "a"


def test_namedlist_pickle_keeps_names_and_flags():
    nl = NamedList([IOFile("a.txt", {"temp"})], {"ref": ["r1", "r2"]})
    back = pickle.loads(pickle.dumps(nl))
    assert list(back) == ["a.txt", "r1", "r2"] and back.ref == ["r1", "r2"]
    assert back[0].is_flagged("temp")
    assert str(back) == "a.txt r1 r2"
