"""da.embed with DocArray 0.21's signature: device / batch_size positions, collate_fn,
torch modules in eval mode, ModelOutput-like returns; the bundled text encoders."""
import numpy as np
import pytest

from shoal import Document, DocumentArray
from shoal.errors import BadInputError
from shoal.models.text import HashingEncoder


def _tensor_docs(n=5, dtype="float32"):
    rng = np.random.default_rng(0)
    return DocumentArray(Document(tensor=rng.random(4).astype(dtype)) for _ in range(n))


def test_collate_fn_builds_the_input_of_a_callable_and_an_encoder():
    da = DocumentArray(Document(text=t) for t in ["a", "bb", "ccc"])
    da.embed(lambda lengths: np.array([[n, 1.0] for n in lengths]),
             collate_fn=lambda b: [len(t) for t in b.texts])
    assert da.embeddings[:, 0].tolist() == [1, 2, 3]

    class Encoder:
        def encode(self, items):
            return np.array([[float(x), 0.0] for x in items])

    da.embed(Encoder(), collate_fn=lambda b: [len(t) * 10 for t in b.texts])
    assert da.embeddings[:, 0].tolist() == [10, 20, 30]


@pytest.mark.parametrize("kwargs, match", [
    ({"batchsize": 2}, "unexpected keyword"),
    ({"batch_size": "2"}, "batch_size must be a positive integer"),
    ({"batch_size": 0}, "batch_size must be a positive integer"),
    ({"collate_fn": 3}, "collate_fn must be a function"),
    ({"device": 0}, "device must be a string"),
])
def test_bad_embed_arguments_are_refused_before_any_write(kwargs, match):
    da = DocumentArray([Document(text="a", embedding=np.zeros(2))])
    with pytest.raises((BadInputError, TypeError), match=match):
        da.embed(lambda b: np.ones((len(b), 2)), **kwargs)
    assert da.embeddings.tolist() == [[0.0, 0.0]]


def test_torch_module_runs_in_eval_mode_and_gets_its_training_mode_back():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Dropout(0.5))
    model.train()
    da = _tensor_docs()
    da.embed(model)
    first = da.embeddings.copy()
    da.embed(model, "cpu", 0, 2)  # DocArray's positional order: device, device_id, batch_size
    assert np.allclose(first, da.embeddings)  # dropout off: the same input, the same vector
    assert model.training
    model.eval()
    da.embed(model)
    assert not model.training


def test_torch_collate_fn_dtype_and_keyword_inputs_and_model_outputs():
    torch = pytest.importorskip("torch")
    lin = torch.nn.Linear(4, 3)
    da = _tensor_docs(3, "float64")  # a float64 tensor would not fit a float32 Linear
    da.embed(lin, collate_fn=lambda b: np.stack(b.tensors).astype("float32"))
    expected = lin(torch.as_tensor(np.stack(da.tensors).astype("float32"))).detach().numpy()
    assert np.allclose(da.embeddings, expected, atol=1e-6)

    class Pooled:  # what transformers' ModelOutput offers
        def __init__(self, pooler_output):
            self.pooler_output = pooler_output

    class TextModel(torch.nn.Module):
        def forward(self, input_ids, attention_mask):
            return Pooled((input_ids * attention_mask).float())

    class TupleModel(torch.nn.Module):
        def forward(self, x):
            return (x * 2, "ignored")

    texts = DocumentArray(Document(text=t) for t in ["ab", "c"])
    texts.embed(TextModel(), collate_fn=lambda b: {
        "input_ids": np.array([[len(t), 1] for t in b.texts]),
        "attention_mask": np.ones((len(b), 2), dtype=np.int64)})
    assert texts.embeddings.tolist() == [[2, 1], [1, 1]]
    da.embed(TupleModel(), collate_fn=lambda b: torch.ones(len(b), 2))
    assert da.embeddings.tolist() == [[2, 2]] * 3


def test_torch_module_on_documents_without_tensors_says_so():
    torch = pytest.importorskip("torch")
    da = DocumentArray([Document(text="only text")])
    with pytest.raises(BadInputError, match="no .tensor.*collate_fn"):
        da.embed(torch.nn.Linear(4, 3))
    with pytest.raises(BadInputError, match="device='nope'"):
        _tensor_docs().embed(torch.nn.Linear(4, 3), device="nope")


def test_text_encoders_take_one_string_or_an_empty_list_and_refuse_other_content():
    enc = HashingEncoder(dim=64)
    assert enc.encode("hello").shape == (64,)
    assert enc.encode([]).shape == (0, 64)
    assert np.allclose(enc.encode("hello"), enc.encode(["hello"])[0])
    with pytest.raises(BadInputError, match="embeds strings, got bytes"):
        DocumentArray([Document(blob=b"\x00")]).embed(enc)


def test_load_text_encoder_names_and_the_auto_fallback_warns(monkeypatch, caplog):
    from shoal.models import load_text_encoder
    from shoal.models.text import MiniLMEncoder

    for name in ("minilm", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        assert isinstance(load_text_encoder(name), MiniLMEncoder)  # loads on first encode
    with pytest.raises(BadInputError, match="unknown text model"):
        load_text_encoder("bert")
    monkeypatch.setitem(__import__("sys").modules, "sentence_transformers", None)
    with caplog.at_level("WARNING", logger="shoal.models"):
        assert isinstance(load_text_encoder("auto"), HashingEncoder)
    assert "lexical" in caplog.text
