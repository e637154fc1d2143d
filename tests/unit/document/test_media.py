"""DocArray 0.21's audio (WAV) and sliding-window image helpers on Document."""
import io
import wave

import numpy as np
import pytest

from shoal import Document
from shoal.errors import BadInputError, MalformedDataError


@pytest.mark.parametrize("width", [1, 2, 4])
@pytest.mark.parametrize("channels", [1, 2])
def test_audio_tensor_round_trips_through_a_wav_file(tmp_path, width, channels):
    rng = np.random.default_rng(width * 10 + channels)
    samples = rng.uniform(-0.9, 0.9, size=(400, channels) if channels > 1 else 400)
    path = tmp_path / "x.wav"
    Document(tensor=samples).save_audio_tensor_to_file(str(path), 16000, width)
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == \
            (channels, width, 16000)
    back = Document(uri=str(path)).load_uri_to_audio_tensor().tensor
    assert back.dtype == np.float32 and back.shape == samples.shape
    assert np.allclose(back, samples, atol=2.0 / 2 ** (8 * width - 1))


def test_audio_edges_clip_and_bad_files_are_clear(tmp_path):
    buf = io.BytesIO()
    Document(tensor=np.array([1.0, -1.0, 2.0])).save_audio_tensor_to_file(buf)  # no wrap-around
    path = tmp_path / "c.wav"
    path.write_bytes(buf.getvalue())
    loud = Document(uri=str(path)).load_uri_to_audio_tensor().tensor
    assert loud[0] > 0.99 and loud[1] == -1.0 and loud[2] > 0.99
    (tmp_path / "n.wav").write_bytes(b"not a wav")
    with pytest.raises(MalformedDataError, match="as a WAV file"):
        Document(uri=str(tmp_path / "n.wav")).load_uri_to_audio_tensor()
    with pytest.raises(BadInputError, match="sample_width"):
        Document(tensor=np.zeros(3)).save_audio_tensor_to_file(io.BytesIO(), sample_width=3)


def test_sliding_windows_as_a_tensor_with_strides_and_padding():
    img = np.arange(6 * 8 * 3, dtype=np.uint8).reshape(6, 8, 3)
    d = Document(tensor=img).convert_image_tensor_to_sliding_windows((4, 4))
    assert d.tensor.shape == (2, 4, 4, 3)  # only whole windows: one row of two
    assert np.array_equal(d.tensor[1], img[0:4, 4:8])
    d = Document(tensor=img).convert_image_tensor_to_sliding_windows((4, 4), strides=(2, 2))
    assert d.tensor.shape == (6, 4, 4, 3)
    d = Document(tensor=img).convert_image_tensor_to_sliding_windows((4, 4), padding=True)
    assert d.tensor.shape == (4, 4, 4, 3) and not d.tensor[3][2:].any()  # zeros past the edge
    chw = Document(tensor=np.moveaxis(img, -1, 0)).convert_image_tensor_to_sliding_windows(
        (4, 4), channel_axis=0)
    assert chw.tensor.shape == (2, 3, 4, 4)
    with pytest.raises(BadInputError, match="window_shape"):
        Document(tensor=img).convert_image_tensor_to_sliding_windows((0, 4))


def test_sliding_windows_as_chunks_carry_their_location():
    img = np.zeros((4, 8, 3), dtype=np.uint8)
    d = Document(tensor=img, location=[10, 20])
    d.convert_image_tensor_to_sliding_windows((4, 4), as_chunks=True)
    assert [c.location for c in d.chunks] == [[10, 20, 4, 4], [10, 24, 4, 4]]
    assert d.tensor.shape == (4, 8, 3)  # kept


def test_plot_image_sprites_draws_each_image_in_its_cell(tmp_path):
    from PIL import Image

    from shoal import DocumentArray
    from shoal.errors import EmptyArrayError

    colors = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    da = DocumentArray(Document(tensor=np.full((10, 20, 3), c, dtype=np.uint8)) for c in colors)
    da.append(Document(text="no image"))
    out = da.plot_image_sprites(str(tmp_path / "s.png"), canvas_size=100)
    assert out == str(tmp_path / "s.png")
    img = np.asarray(Image.open(out))
    assert img.shape == (100, 100, 3)  # 2 x 2 cells of 50 px
    assert tuple(img[25, 25]) == colors[0] and tuple(img[25, 75]) == colors[1]
    assert tuple(img[75, 25]) == colors[2] and tuple(img[75, 75]) == (255, 255, 255)
    kept = np.asarray(Image.open(da.plot_image_sprites(canvas_size=100, skip_empty=True,
                                                       keep_aspect_ratio=True)))
    assert tuple(kept[2, 25]) == (255, 255, 255) and tuple(kept[25, 25]) == colors[0]
    with pytest.raises(EmptyArrayError, match="no Document has an image"):
        DocumentArray([Document(text="x")]).plot_image_sprites()
