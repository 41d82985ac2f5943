"""colorlab.pretrained.torch_files: PyTorch state dicts read without PyTorch, never trusted."""

import os
import pickle

import numpy as np
import pytest

from colorlab.pretrained.torch_files import TorchFileError, UnsafePickle, read_state_dict
from torch_writer import save_legacy, save_zip

STATE = {
    "model1.0.weight": np.arange(2 * 3 * 3 * 3, dtype=np.float32).reshape(2, 3, 3, 3) / 7,
    "model1.0.bias": np.array([0.5, -1.25], np.float32),
    "model8.6.running_mean": np.linspace(-1, 1, 5),
    "steps": np.array(3, np.int64),
}


@pytest.mark.parametrize("save", [save_legacy, save_zip], ids=["legacy", "zip"])
def test_both_formats_read_back_exactly(tmp_path, save):
    path = tmp_path / "m.pth"
    save(STATE, path)
    read = read_state_dict(path)
    assert list(read) == list(STATE)
    for key, value in STATE.items():
        assert read[key].dtype == value.dtype and read[key].shape == value.shape
        np.testing.assert_array_equal(read[key], value)


@pytest.mark.parametrize("save", [save_legacy, save_zip], ids=["legacy", "zip"])
def test_offsets_and_strides_are_honoured(tmp_path, save):
    matrix = np.arange(12, dtype=np.float32).reshape(3, 4)
    save({"w": matrix, "b": np.ones(2, np.float32)}, tmp_path / "t.pth", transpose_first=True)
    np.testing.assert_array_equal(read_state_dict(tmp_path / "t.pth")["w"], matrix)


def test_a_zip_whose_folder_is_not_archive_reads(tmp_path):
    save_zip(STATE, tmp_path / "z.pth", folder="colorization_release_v2")
    assert set(read_state_dict(tmp_path / "z.pth")) == set(STATE)


def test_big_endian_files_are_refused_with_a_reason(tmp_path):
    save_legacy(STATE, tmp_path / "be.pth", little_endian=False)
    with pytest.raises(TorchFileError, match="big-endian"):
        read_state_dict(tmp_path / "be.pth")
    save_zip(STATE, tmp_path / "bez.pth", byteorder="big")
    with pytest.raises(TorchFileError, match="big-endian"):
        read_state_dict(tmp_path / "bez.pth")


def test_truncated_and_foreign_files_give_one_clear_error(tmp_path):
    save_legacy(STATE, tmp_path / "full.pth")
    data = (tmp_path / "full.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) - 17])
    with pytest.raises(TorchFileError, match="truncated"):
        read_state_dict(tmp_path / "cut.pth")
    (tmp_path / "text.pth").write_text("not a checkpoint at all\n")
    with pytest.raises(TorchFileError, match="not a readable PyTorch file|not a PyTorch"):
        read_state_dict(tmp_path / "text.pth")
    with open(tmp_path / "list.pth", "wb") as f:
        pickle.dump([1, 2, 3], f, protocol=2)
    with pytest.raises(TorchFileError, match="no torch magic number"):
        read_state_dict(tmp_path / "list.pth")
    with pytest.raises(FileNotFoundError):
        read_state_dict(tmp_path / "missing.pth")


class _Malicious:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))  # would create a file when unpickled


@pytest.mark.parametrize("where", ["legacy", "zip"])
def test_a_malicious_pickle_is_refused_and_never_runs(tmp_path, where):
    victim = tmp_path / "created_by_the_pickle"
    payload = pickle.dumps({"weight": _Malicious(str(victim))}, protocol=2)
    path = tmp_path / "evil.pth"
    if where == "legacy":
        with open(path, "wb") as f:
            for obj in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
                pickle.dump(obj, f, protocol=2)
            f.write(payload)
    else:
        import zipfile

        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("archive/data.pkl", payload)
    with pytest.raises(UnsafePickle, match="names io.open.*refused without running"):
        read_state_dict(path)
    assert not victim.exists() and not os.path.lexists(victim)


def test_a_pickle_that_is_not_a_state_dict_is_refused(tmp_path):
    path = tmp_path / "config.pth"
    with open(path, "wb") as f:
        for obj in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}, {"lr": 0.1}, []):
            pickle.dump(obj, f, protocol=2)
    with pytest.raises(TorchFileError, match="does not hold a state dict"):
        read_state_dict(path)


@pytest.mark.parametrize("name", ["torch2.13_zip.pth", "torch2.13_legacy.pth"])
def test_files_written_by_real_pytorch_read_exactly(name):
    """tests/data holds files ``torch.save`` (PyTorch 2.13, CPU) wrote in both formats:

        m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4),
                          nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1))  # seed 0
        sd = m.state_dict(); base = torch.arange(20.).reshape(4, 5)
        sd["view.t"], sd["view.slice"] = base.t(), base[1:, 2:]  # one shared storage
        sd["half"], sd["bf16"] = torch.randn(3).half(), torch.randn(3).bfloat16()
        torch.save(sd, "..._zip.pth"); torch.save(sd, "..._legacy.pth",
                                                 _use_new_zipfile_serialization=False)

    and the arrays torch gave for them (``.numpy()``; bfloat16 as float32)."""
    from conftest import ROOT

    expected = np.load(ROOT / "tests" / "data" / "torch2.13_expected.npz")
    read = read_state_dict(ROOT / "tests" / "data" / name)
    assert len(read) == 13 and read["1.num_batches_tracked"].dtype == np.int64
    assert read["half"].dtype == np.float16 and read["0.weight"].shape == (4, 1, 3, 3)
    assert read["2.weight"].shape == (4, 2, 4, 4)  # ConvTranspose2d: (in, out, kh, kw)
    for key, value in read.items():
        np.testing.assert_array_equal(value, expected[key.replace(".", "__")])
