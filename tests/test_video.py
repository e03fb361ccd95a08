"""Video input: formats, facts, sampling with true timestamps, key-frame seeking, clear errors."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from clips import index_frame, read_index, write_av, write_cv2

from analytics.errors import InputError, VideoError
from analytics.footage import video
from analytics.footage.video import Sampling, open_video, probe, select_frames

LOSSLESS = {"qp": "0"}


def _gif_frame(i: int, w: int, h: int) -> np.ndarray:
    """GIF palettes quantise greys: paint the index as a pure colour block pattern instead."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:, : w // 2] = 20 + 7 * (i % 30)
    return img


@pytest.mark.parametrize(
    ("name", "write"),
    [
        ("clip.avi", lambda p: write_cv2(p, 25, fourcc="MJPG")),  # OpenCV MJPEG in AVI
        ("clip.mp4", lambda p: write_cv2(p, 25, fourcc="mp4v")),  # OpenCV MPEG-4 part 2 in MP4
        ("clip.mov", lambda p: write_cv2(p, 25, fourcc="mp4v")),  # QuickTime container
        ("clip.mkv", lambda p: write_av(p, 25, codec="libx264", options=LOSSLESS)),  # H.264 in Matroska
        ("clip.webm", lambda p: write_av(p, 25, codec="libvpx", options={"crf": "4", "b": "2M"})),  # VP8 in WebM
        ("clip.gif", lambda p: write_av(p, 25, codec="gif", pix_fmt="rgb8", paint=_gif_frame)),  # animated GIF
    ],
)
def test_formats_open_and_sample_at_2_fps(tmp_path: Path, name: str, write) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path / name)
    with open_video(path, 2.0) as reader:
        frames = list(reader)
        info = reader.info
    assert (info.width, info.height, info.n_frames) == (64, 48, 25)
    assert info.fps == pytest.approx(10.0)
    assert info.duration_s == pytest.approx(2.5)
    assert [f.index for f in frames] == [0, 5, 10, 15, 20]  # 10 fps clip, 2 sampled per second
    assert [f.t_s for f in frames] == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0])
    if not name.endswith(".gif"):
        assert [read_index(f.image) for f in frames] == [0, 5, 10, 15, 20]  # the decoded pixels are those frames
    assert reader.problem is None


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("every=4", [0, 4, 8, 12, 16, 20, 24]),  # every 4th frame
        ("all", list(range(25))),  # every frame
        (1, [0, 10, 20]),  # one a second
        (0.4, [0, 25][:1]),  # one every 2.5 s: only the first fits in a 2.5 s clip
        (25, list(range(25))),  # faster than the clip: each frame at most once
    ],
)
def test_sampling_rules(tmp_path: Path, spec: object, expected: list[int]) -> None:
    path = write_cv2(tmp_path / "c.avi", 25)
    with open_video(path, spec) as reader:  # type: ignore[arg-type]
        assert [f.index for f in reader] == expected
        assert reader.n_wanted == len(expected)


def test_variable_frame_timing_uses_true_timestamps() -> None:
    # frames at 0, 0.1, 1.7, 1.8 s sampled at 1 per second: 1.7 s serves the 1 s target
    assert select_frames(np.array([0.0, 0.1, 1.7, 1.8]), Sampling("fps", 1)).tolist() == [0, 2]


@pytest.mark.parametrize(
    ("spec", "message"),
    [("fast", "expected a rate"), (0, "one frame an hour"), (1e-9, "one frame an hour"), ("every=0", "at least 1"), ("x=3", "rate")],
)
def test_bad_sampling_is_refused(spec: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        Sampling.parse(spec)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("gop", "most_decoded"),
    [
        (10, 60),  # key frames every 10 frames: seeking skips most of the 120
        (250, 100),  # one key frame: no seeking, but unreferenced B-frames are skipped
    ],
)
def test_sparse_sampling_skips_work_and_returns_the_same_frames(tmp_path: Path, gop: int, most_decoded: int) -> None:
    path = write_av(tmp_path / "gop.mp4", 120, fps=25, codec="libx264", gop=gop, options={"bf": "3"})
    with open_video(path, "all") as reader:
        every = {f.index: f.image for f in reader}
    with open_video(path, 1.0) as reader:
        sparse = list(reader)
    assert [f.index for f in sparse] == [0, 25, 50, 75, 100]
    assert reader.frames_out < most_decoded
    for f in sparse:
        np.testing.assert_array_equal(f.image, every[f.index])  # seeking decodes exactly the frame it says


def test_rotation_is_applied_like_ffmpeg_autorotate(tmp_path: Path) -> None:
    path = write_av(tmp_path / "rot.mp4", 3, codec="libx264", rotation=90, options=LOSSLESS)
    info = probe(path)
    assert (info.width, info.height, info.rotation) == (48, 64, 270)
    with open_video(path, "all") as reader:
        ours = next(iter(reader)).image
    ok, theirs = cv2.VideoCapture(str(path)).read()  # OpenCV applies the display matrix by default
    assert ok
    np.testing.assert_array_equal(ours, theirs)


def test_not_a_video(tmp_path: Path) -> None:
    p = tmp_path / "notes.mp4"
    p.write_text("these are not frames")
    with pytest.raises(VideoError, match="not a video file"):
        open_video(p)


def test_empty_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(VideoError, match="empty"):
        open_video(tmp_path / "empty.mp4")
    with pytest.raises(InputError, match="does not exist"):
        open_video(tmp_path / "missing.mp4")


def test_audio_only_file_has_no_video_stream(tmp_path: Path) -> None:
    import av

    p = tmp_path / "sound.wav"
    with av.open(str(p), "w") as out:
        s = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in s.encode(frame):
            out.mux(packet)
        for packet in s.encode():
            out.mux(packet)
    with pytest.raises(VideoError, match="no video stream"):
        open_video(p)


def test_absurd_size_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_cv2(tmp_path / "c.avi", 3)
    monkeypatch.setattr(video, "MAX_SIDE", 32)  # a 64x48 clip is "absurd" under a 32-pixel limit
    with pytest.raises(VideoError, match="frame size 64x48"):
        open_video(path)


def test_truncated_file_keeps_what_decoded_and_says_how_much(tmp_path: Path) -> None:
    path = write_av(
        tmp_path / "full.mp4", 100, codec="libx264", gop=10, options=LOSSLESS, container_options={"movflags": "faststart"},
        size=(128, 96),
    )
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])  # the index (moov) is at the start; half the frames are gone
    with open_video(cut, 2.0) as reader:
        frames = list(reader)
        problem = reader.problem
    assert 0 < len(frames) < 20
    assert problem is not None and "truncated" in problem and "of 10.0 s" in problem and "of 100 frames" in problem
    assert [read_index(f.image) for f in frames] == [f.index % 30 for f in frames]


def test_zero_frames(tmp_path: Path) -> None:
    path = write_cv2(tmp_path / "none.avi", 0)  # a valid AVI header with no frame
    with pytest.raises(VideoError, match="zero frames"):
        open_video(path)


def test_index_frame_roundtrip() -> None:
    assert [read_index(index_frame(i)) for i in (0, 7, 29, 31)] == [0, 7, 29, 1]


def test_shared_samples_facts(shared_dir: Path) -> None:
    info = probe(shared_dir / "samples" / "bikes.mp4")
    assert (info.width, info.height, info.n_frames, info.fps, info.codec) == (640, 272, 250, 25.0, "h264")
    gif = probe(shared_dir / "samples" / "person-bicycle-car-detection.gif")
    assert (gif.width, gif.height, gif.n_frames) == (480, 270, 41)


def test_unsupported_codec_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import av

    path = write_cv2(tmp_path / "c.avi", 3)  # MJPEG; pretend this FFmpeg build cannot decode it
    real = av.codec.Codec

    def no_mjpeg(name: str, mode: str = "r") -> object:
        if name == "mjpeg":
            raise av.error.FFmpegError(0, "no decoder")
        return real(name, mode)

    monkeypatch.setattr(av.codec, "Codec", no_mjpeg)
    with pytest.raises(VideoError, match="codec 'mjpeg' has no decoder"):
        open_video(path)


def test_a_clip_longer_than_the_maximum_is_refused_before_decoding(tmp_path: Path) -> None:
    # 13 frames ten minutes apart: a clip of 2 h 10 min in a few kilobytes
    path = write_av(tmp_path / "long.mp4", 13, fps=Fraction(1, 600))  # type: ignore[arg-type]
    with pytest.raises(VideoError, match=r"lasts 2:10:00, longer than the maximum of 1:00:00 .*--max-duration 130"):
        open_video(path, 2.0, max_duration_s=3600)
    with open_video(path, "all", max_duration_s=3 * 3600) as reader:  # a higher bound lets it through
        assert reader.info.n_frames == 13
    with pytest.raises(InputError, match="seconds above 0"):
        open_video(path, 2.0, max_duration_s=0)


@pytest.mark.parametrize(
    ("spec", "note"),
    [
        ("2", None),  # below the clip's 10 frames a second: nothing to say
        ("25", "above the clip's own 10 frames a second: every frame is analysed"),
        ("0.2", "samples one frame every 5 s, but clip.mp4 lasts 2.50 s: only its first frame is analysed"),
        ("every=40", "every=40 steps over more frames than clip.mp4 has (25)"),
    ],
)
def test_sampling_that_cannot_do_what_it_says_explains_itself(tmp_path: Path, spec: str, note: str | None) -> None:
    path = write_av(tmp_path / "clip.mp4", 25)
    with open_video(path, spec) as reader:
        frames = list(reader)
    assert len(frames) >= 1
    if note is None:
        assert reader.notes == []
    else:
        assert any(note in n for n in reader.notes), reader.notes


@pytest.mark.parametrize(
    ("size", "warned"),
    [
        ((64, 48), None),  # ordinary
        ((16, 1000), "62 times taller than wide"),  # a strip the model cannot use
        ((1000, 16), "62 times wider than tall"),
        ((80, 24), "a side under 32 pixels"),  # 10:3, but too few pixels
    ],
)
def test_odd_frame_shapes_are_warned_about(tmp_path: Path, size: tuple[int, int], warned: str | None) -> None:
    path = write_av(tmp_path / "odd.mp4", 2, size=size)
    with open_video(path, "all") as reader:
        notes = reader.notes
    assert (notes == []) if warned is None else any(warned in n for n in notes), notes
    assert video.shape_warning(17, 4000) is not None and "235 times taller" in str(video.shape_warning(17, 4000))
