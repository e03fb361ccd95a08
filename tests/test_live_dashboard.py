"""Watched cameras on the dashboard (Streamlit AppTest): the Overview's health panel, stale cameras ringed on
its map, and the Camera page's live view, on a DuckDB file whose watch rows are written by store.health."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import pytest
from helpers import clip_from_pixels, store_with_cameras
from streamlit.testing.v1 import AppTest

from analytics.records import Preview
from analytics.store.health import WatchReport, record_watch, watch_started
from tests.dashboard_helpers import shown_text

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "samples" / "bikes.mp4"


def _preview_jpeg() -> bytes:
    """A real street frame (../shared/samples/bikes.mp4) as JPEG, or a plain grey one where the sample is absent."""
    from PIL import Image

    if SAMPLE.exists():
        with av.open(str(SAMPLE)) as container:
            image = next(container.decode(video=0)).to_image()
    else:
        image = Image.new("RGB", (640, 272), (128, 128, 128))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


def live_database(path: Path) -> Path:
    """gate: watched, a frame a minute ago, 40 frames stored 5 minutes ago (30% vegetation) with a preview;
    quay: watched, no frame for 40 minutes, 7 reconnects and an error (stale); park: not watched. Times UTC."""
    now = datetime.now(UTC).replace(tzinfo=None)
    with store_with_cameras(str(path), [("gate", 8.540, 47.370), ("quay", 8.550, 47.378), ("park", 8.545, 47.365)]) as store:
        clip = clip_from_pixels("gate", now - timedelta(minutes=5), [{8: 30, 0: 70}] * 40, label="gate live 08:55")
        store.ingest([dataclasses.replace(clip, previews=[Preview(0, _preview_jpeg())])])
        watch_started(store, "gate", "rtsp://127.0.0.1:8554/gate", 101, now - timedelta(minutes=30))
        watch_started(store, "quay", "http://127.0.0.1:8080/quay.m3u8", 102, now - timedelta(minutes=40))
        record_watch(store, "gate", WatchReport(last_frame_at=now - timedelta(minutes=1), chunks=5, frames=40, reconnects=1,
                                                size=(640, 272), lag_s=63.0), now - timedelta(minutes=1))
        record_watch(store, "quay", WatchReport(state="reconnecting", reconnects=7, error="connection refused"), now)
    return path


@pytest.fixture(scope="module")
def live_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return live_database(tmp_path_factory.mktemp("live") / "live.duckdb")


@pytest.fixture()
def app(live_db: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("URBANLENS_DB", str(live_db))
    return AppTest.from_file(APP, default_timeout=60)


def _texts(at: AppTest) -> str:
    return shown_text("\n".join([m.value for m in at.markdown] + [c.value for c in at.caption]))


def test_overview_shows_the_health_panel_and_rings_the_stale_camera(app: AppTest) -> None:
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    text = _texts(app)
    assert "Live cameras · 2 watched cameras: 1 stale, 1 ok" in text and ":red-badge[stale] quay" in text
    table = next(df.value for df in app.dataframe if "frames last hour" in df.value.columns)
    rows = table.set_index("camera")
    assert rows.loc["quay", "status"] == "stale" and rows.loc["quay", "reconnects"] == 7 and rows.loc["quay", "ago"] == "never"
    assert rows.loc["gate", "ago"] == "1 min ago" and rows.loc["gate", "frames last hour"] == 40 and "park" not in rows.index
    traces = [t for el in app.get("plotly_chart") for t in json.loads(el.proto.spec)["data"]]
    stale = [t for t in traces if t.get("name") == "stale live camera"]
    assert len(stale) == 1 and stale[0]["customdata"] == ["camera:quay"] and stale[0]["x"] == [8.55]
    assert "connection refused" in stale[0]["hovertext"][0] and "7 reconnects" in stale[0]["hovertext"][0]
    assert "Red rings: watched live cameras that are stale" in text


def test_the_camera_page_of_a_watched_camera_has_its_live_view(app: AppTest) -> None:
    app.run()
    app.switch_page("views/camera.py")
    app.session_state["camera_id"] = "gate"
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    text = _texts(app)
    assert "##### Live :green-badge[ok]" in text
    assert "last frame" in text and "(1 min ago) · 40 frames in the last hour · 1 reconnects" in text and "lag 63 s" in text
    assert [shown_text(c) for i in app.get("image") for c in i.captions][0] == "Latest preview · gate live 08:55 (people blurred)"
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Green view index"] == "30.0%"  # the 40 frames of the last hour: 30 of 100 pixels vegetation
    assert "Indicators and counts of today from" in text

    app.session_state["camera_pick"] = "park"  # not watched: no live view
    app.run()
    assert "##### Live" not in _texts(app)
