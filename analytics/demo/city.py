"""The demo city "Lensfield": a made-up city whose numbers follow believable patterns.

Everything here is **synthetic** and marked so in the store (clips.source = 'synthetic', a model
called ``synthetic-demo``) and wherever it is shown. It exists so that a fresh install has a
dashboard worth looking at; it goes through the same ingestion API as real footage.

The demo city lives in a database of its own (``urbanlens demo`` writes ``Settings.demo_db_path``,
``$URBANLENS_HOME/demo.duckdb`` by default): :func:`build_demo` never replaces a file that holds
real data, and the store refuses real footage, cameras, districts and evaluations in the demo's
file (:func:`analytics.store.ingest.refuse_mixing`).

Patterns built in (so charts have something true to show):

- commute peaks in traffic (08:00 and 17:30 on weekdays) with stationary queues at the peaks;
- lunchtime and weekend peaks of pedestrians, strongest in Old Town and University;
- greener residential districts (Riverside, Northgate);
- road damage concentrated in Harbour;
- a mobile dashcam route through several districts on weekdays;
- count lines on two cameras (:data:`COUNTING_CAMERAS`) with people, cyclists and vehicles by
  direction (inbound in the morning, outbound in the evening), stays in Market Square and vehicle
  speeds that drop at the commute peaks.

The city sits in the middle of the Atlantic (around 35°W 42°N) so that nobody mistakes it for a real one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Polygon

from analytics.errors import InputError, SchemaVersionError, StoreError
from analytics.footage.countzones import read_camera_zones
from analytics.records import COUNT_COLUMNS, ClipInfo, ClipMeasurements, CountTables, RunInfo
from analytics.store import Store
from analytics.taxonomy import CITYSCAPES_CLASSES, ClassSet

__all__ = [
    "DEMO_CLASS_SET",
    "DEMO_DAYS",
    "DEMO_MODEL",
    "DEMO_START",
    "FRAMES_PER_CLIP",
    "FRAME_H",
    "FRAME_W",
    "PIXELS",
    "SAMPLE_FPS",
    "ZONED_CAMERAS",
    "COUNTING_CAMERAS",
    "demo_count_geometry",
    "demo_counts",
    "DemoSummary",
    "build_demo",
    "demo_cameras",
    "demo_clip_measurements",
    "demo_districts",
]

DEMO_CLASS_SET = ClassSet(
    "cityscapes+damage",
    tuple(c for c, _ in CITYSCAPES_CLASSES[:19]) + ("road damage", "background"),
    tuple(g for _, g in CITYSCAPES_CLASSES[:19]) + ("damage", "void"),
)
DEMO_MODEL = "synthetic-demo"
DEMO_START = date(2026, 11, 2)  # a Monday
DEMO_DAYS = 14
FRAME_W, FRAME_H = 768, 384
PIXELS = FRAME_W * FRAME_H
SAMPLE_FPS = 0.5
FRAMES_PER_CLIP = 24

# district id, name, polygon ring (lon, lat), profile
_LON0, _LAT0 = -35.04, 41.98
_DISTRICTS: list[tuple[str, str, list[tuple[float, float]]]] = [
    ("university", "University", [(0.0, 0.02), (0.0, 0.04), (0.041, 0.04), (0.038, 0.031), (0.041, 0.02), (0.026, 0.021)]),
    ("northgate", "Northgate", [(0.041, 0.02), (0.038, 0.031), (0.041, 0.04), (0.08, 0.04), (0.08, 0.019), (0.054, 0.021)]),
    ("harbour", "Harbour", [(0.0, 0.0), (0.0, 0.02), (0.026, 0.021), (0.028, 0.009), (0.025, 0.0)]),
    ("old-town", "Old Town", [(0.025, 0.0), (0.028, 0.009), (0.026, 0.021), (0.041, 0.02), (0.054, 0.021), (0.052, 0.0)]),
    ("riverside", "Riverside", [(0.052, 0.0), (0.054, 0.021), (0.08, 0.019), (0.08, 0.0)]),
]

# group shares of a typical frame per district (road, sidewalk, built, vegetation, terrain, sky,
# person, two_wheeler, vehicle, damage, void), traffic, pedestrian and damage levels
_PROFILES: dict[str, dict[str, float]] = {
    "old-town": {"road": 0.30, "sidewalk": 0.12, "built": 0.34, "vegetation": 0.06, "terrain": 0.01, "sky": 0.12,
                 "traffic": 1.0, "peds": 1.3, "damage": 0.004, "weekend_peds": 1.6},
    "university": {"road": 0.28, "sidewalk": 0.11, "built": 0.26, "vegetation": 0.14, "terrain": 0.04, "sky": 0.15,
                   "traffic": 0.7, "peds": 1.2, "damage": 0.003, "weekend_peds": 0.6, "lunch": 2.0},
    "northgate": {"road": 0.30, "sidewalk": 0.08, "built": 0.17, "vegetation": 0.25, "terrain": 0.06, "sky": 0.13,
                  "traffic": 0.5, "peds": 0.6, "damage": 0.003, "weekend_peds": 1.2},
    "riverside": {"road": 0.28, "sidewalk": 0.09, "built": 0.13, "vegetation": 0.30, "terrain": 0.07, "sky": 0.12,
                  "traffic": 0.4, "peds": 0.8, "damage": 0.002, "weekend_peds": 1.5},
    "harbour": {"road": 0.38, "sidewalk": 0.05, "built": 0.27, "vegetation": 0.05, "terrain": 0.05, "sky": 0.17,
                "traffic": 1.2, "peds": 0.3, "damage": 0.035, "weekend_peds": 0.4, "trucks": 0.35},
}

_CAMERA_NAMES = {
    "old-town": ["Market Square", "Cathedral Lane", "High Street", "Bridge Gate"],
    "university": ["Campus Avenue", "Library Crossing", "Science Park"],
    "northgate": ["Northgate Road", "Linden Park", "Orchard Way"],
    "riverside": ["River Walk", "Mill Bridge", "Willow Street"],
    "harbour": ["Dock Road", "Container Gate", "Ferry Terminal"],
}


@dataclass(frozen=True)
class DemoSummary:
    path: Path
    districts: int
    cameras: int
    clips: int
    frames: int
    seconds: float


def _abs(ring: list[tuple[float, float]]) -> list[list[float]]:
    pts = [[round(_LON0 + x, 6), round(_LAT0 + y, 6)] for x, y in ring]
    return [*pts, pts[0]]


def demo_districts() -> pd.DataFrame:
    """The five districts of Lensfield as GeoJSON polygons."""
    return pd.DataFrame(
        [
            {"district_id": d, "name": n, "geometry_geojson": json.dumps({"type": "Polygon", "coordinates": [_abs(r)]}),
             "source": "synthetic"}
            for d, n, r in _DISTRICTS
        ]
    )


def demo_cameras(rng: np.random.Generator) -> pd.DataFrame:
    """16 fixed street cameras inside the districts and one mobile dashcam."""
    rows = []
    for did, _name, ring in _DISTRICTS:
        poly = Polygon(_abs(ring))
        inner = poly.buffer(-0.002)
        minx, miny, maxx, maxy = inner.bounds
        for i, cam_name in enumerate(_CAMERA_NAMES[did]):
            while True:
                lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
                if inner.contains(shapely.Point(lon, lat)):
                    break
            rows.append({"camera_id": f"{did}-{i + 1}", "name": cam_name, "lon": round(lon, 6), "lat": round(lat, 6),
                         "heading": float(rng.integers(0, 360)), "kind": "fixed", "source": "synthetic"})
    rows.append({"camera_id": "dashcam-1", "name": "Dashcam route (bus 12)", "lon": _LON0 + 0.012, "lat": _LAT0 + 0.01,
                 "heading": np.nan, "kind": "mobile", "source": "synthetic"})
    return pd.DataFrame(rows)


def _route(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dashcam position along a loop through Harbour, Old Town, Riverside and Northgate; t in [0, 1)."""
    way = np.array([[0.012, 0.010], [0.040, 0.008], [0.066, 0.010], [0.066, 0.030], [0.030, 0.030], [0.012, 0.010]])
    seg = np.linalg.norm(np.diff(way, axis=0), axis=1)
    cum = np.concatenate([[0], np.cumsum(seg)]) / seg.sum()
    lon = np.interp(t, cum, way[:, 0]) + _LON0
    lat = np.interp(t, cum, way[:, 1]) + _LAT0
    return np.round(lon, 5), np.round(lat, 5)


def _traffic(hour: np.ndarray, weekend: np.ndarray) -> np.ndarray:
    """Relative traffic (about 0.2–1.3): commute peaks on weekdays, a flat midday hump at weekends."""
    weekday = 0.25 + 0.95 * np.exp(-((hour - 8.0) ** 2) / 1.2) + 0.9 * np.exp(-((hour - 17.5) ** 2) / 1.8) + 0.25 * np.exp(
        -((hour - 13) ** 2) / 8
    )
    weekend_curve = 0.2 + 0.45 * np.exp(-((hour - 14.0) ** 2) / 10)
    return np.where(weekend, weekend_curve, weekday)


def _pedestrians(hour: np.ndarray, weekend: np.ndarray, lunch: float, weekend_factor: float) -> np.ndarray:
    """Relative pedestrian use: lunchtime peak on weekdays, a long afternoon peak at weekends."""
    weekday = 0.3 + 0.35 * np.exp(-((hour - 8.2) ** 2) / 1.0) + 0.8 * lunch * np.exp(-((hour - 12.7) ** 2) / 1.2) + 0.45 * np.exp(
        -((hour - 17.3) ** 2) / 1.5
    )
    weekend_curve = weekend_factor * (0.3 + 1.1 * np.exp(-((hour - 14.0) ** 2) / 9))
    return np.where(weekend, weekend_curve, weekday)


_SPLIT = {  # how a group's pixels spread over the demo model's classes
    "road": {0: 1.0}, "sidewalk": {1: 1.0}, "built": {2: 0.7, 3: 0.05, 4: 0.05, 5: 0.1, 6: 0.03, 7: 0.07},
    "vegetation": {8: 1.0}, "terrain": {9: 1.0}, "sky": {10: 1.0}, "person": {11: 0.85, 12: 0.15},
    "two_wheeler": {17: 0.3, 18: 0.7}, "damage": {19: 1.0}, "void": {20: 1.0},
}


def demo_clip_measurements(
    rng: np.random.Generator, cam: dict[str, object], did: str, start: datetime, day_mood: float, run: RunInfo
) -> ClipMeasurements:
    """One synthetic clip of camera ``cam`` (a row of :func:`demo_cameras`) in district ``did`` from ``start``.

    ``day_mood`` scales the day's traffic and pedestrians (1.0 is a typical day).
    """
    if did not in _PROFILES:
        raise InputError(f"district {did!r} is not in the demo city; expected one of {', '.join(_PROFILES)}")
    prof = _camera_profile(cam, did)
    n = FRAMES_PER_CLIP
    t_s = np.arange(n) / SAMPLE_FPS
    jitter = lambda s: np.clip(rng.normal(1.0, s, n), 0.3, 2.0)  # noqa: E731
    traffic, shares = _group_shares(rng, prof, did, start, t_s, day_mood, jitter)
    person, two_w, vehicle = shares["person"], shares["two_wheeler"], shares["vehicle"]
    cp = _class_pixels(shares, prof)
    stationarity = np.clip(0.1 + 0.9 * np.clip(traffic - 0.5, 0, 1) ** 1.1 + rng.normal(0, 0.06, n), 0, 1)
    stationarity[0] = np.nan
    counts = np.stack(
        [rng.poisson(person * PIXELS / 2600), rng.poisson(two_w * PIXELS / 3500), rng.poisson(vehicle * PIXELS / 9000)], axis=1
    )
    conf = np.clip(rng.normal(0.84 if did != "harbour" else 0.78, 0.03, n), 0, 1)
    low = np.clip(0.5 * (1 - conf) + rng.normal(0, 0.01, n), 0, 1)
    flicker = np.clip(rng.normal(0.045, 0.01, n), 0, 1)
    flicker[0] = np.nan
    road_px = cp[:, 0].astype(float)
    crack = road_px * np.clip(prof["damage"] * 0.6 * jitter(0.5) + 0.002, 0, 1)
    pothole = road_px * np.clip(prof["damage"] * 0.3 * jitter(0.6), 0, 1)
    zone_pixels = None
    if cam.get("zones"):
        side = np.clip(rng.beta(6, 2, n), 0, 1)
        person_px = cp[:, 11] + cp[:, 12]
        zone_pixels = pd.DataFrame({
            "frame_pos": np.arange(n), "zone": "sidewalk", "role": "sidewalk", "class_id": 11,
            "pixels": (person_px * side).astype(np.int64),
        })
    lon = lat = None
    if cam["kind"] == "mobile":
        phase = rng.uniform(0, 1)
        lon, lat = _route((phase + np.arange(n) / (n * 6.0)) % 1.0)
    digest = hashlib.sha256(f"lensfield:{cam['camera_id']}:{start.isoformat()}".encode()).hexdigest()
    clip = ClipInfo(digest, str(cam["camera_id"]), start, n / SAMPLE_FPS, 25.0, FRAME_W, FRAME_H, int(n / SAMPLE_FPS * 25),
                    "synthetic", f"demo {cam['camera_id']} {start:%Y-%m-%d %H:%M}")
    return ClipMeasurements(
        clip=clip, run=run, frame_index=(t_s * 25).astype(np.int64), t_s=t_s, class_pixels=cp, mean_confidence=conf,
        low_conf_share=low, flicker=flicker, vehicle_stationarity=stationarity, object_counts=counts,
        distress_crack_px=crack, distress_pothole_px=pothole, lon=lon, lat=lat, zone_pixels=zone_pixels,
    )


def _camera_profile(cam: dict[str, object], did: str) -> dict[str, float]:
    """The district's profile scaled by the camera's own ``look`` (each camera sees its own street)."""
    prof = dict(_PROFILES[did])
    look = cam.get("look")
    if isinstance(look, dict):
        for key, factor in look.items():
            prof[key] = prof[key] * float(factor)
    return prof


def _group_shares(
    rng: np.random.Generator, prof: dict[str, float], did: str, start: datetime, t_s: np.ndarray, day_mood: float,
    jitter: Callable[[float], np.ndarray],
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(traffic level, share of each indicator group per frame) of one synthetic clip, before normalising."""
    n = len(t_s)
    hour = np.full(n, start.hour + start.minute / 60.0) + t_s / 3600.0
    weekend = np.full(n, start.weekday() >= 5)
    traffic = _traffic(hour, weekend) * prof["traffic"] * rng.uniform(0.85, 1.15)
    peds = _pedestrians(hour, weekend, prof.get("lunch", 1.0), prof["weekend_peds"]) * prof["peds"] * day_mood
    vehicle = np.clip(0.12 * traffic * jitter(0.25), 0.002, 0.40)
    person = np.clip(0.012 * peds * jitter(0.35), 0.0, 0.12)
    two_w = np.clip(0.006 * peds * (1.6 if did == "university" else 0.8) * jitter(0.5), 0.0, 0.05)
    road = np.clip(prof["road"] * jitter(0.05) - vehicle * 0.8, 0.05, 0.6)
    damage = road * prof["damage"] * jitter(0.4)
    shares = {
        "road": road - damage, "sidewalk": prof["sidewalk"] * jitter(0.08) - person * 0.5, "built": prof["built"] * jitter(0.06),
        "vegetation": prof["vegetation"] * jitter(0.08), "terrain": prof["terrain"] * jitter(0.15), "sky": prof["sky"] * jitter(0.08),
        "person": person, "two_wheeler": two_w, "vehicle": vehicle, "damage": damage, "void": np.full(n, 0.01) * jitter(0.3),
    }
    return traffic, shares


def _class_pixels(shares: dict[str, np.ndarray], prof: dict[str, float]) -> np.ndarray:
    """Pixels per class and frame: each group's share of :data:`PIXELS` split over its classes (rounding to void)."""
    n = len(shares["road"])
    total = sum(shares.values())
    cp = np.zeros((n, DEMO_CLASS_SET.num_classes), dtype=np.int64)
    for g, share in shares.items():
        px = np.clip(share / total, 0, 1) * PIXELS
        if g == "vehicle":
            trucks = prof.get("trucks", 0.08)
            for cid, w in {13: 1 - trucks - 0.04, 14: trucks, 15: 0.04}.items():
                cp[:, cid] += (px * w).astype(np.int64)
            continue
        for cid, w in _SPLIT[g].items():
            cp[:, cid] += (px * w).astype(np.int64)
    cp[:, 20] += PIXELS - cp.sum(axis=1)  # rounding remainder to void
    return cp


def _refuse_real_data(p: Path) -> None:
    """Refuse (:class:`InputError`) to build the demo over ``p`` when it is a database that holds real data."""
    try:
        with Store(p, read_only=True, lock_timeout_s=0) as existing:
            holds = existing.holds()
    except SchemaVersionError:
        raise InputError(f"{str(p)!r} is an UrbanLens database of another version; the demo city is not built over it. "
                         "Give another path with --db") from None
    except StoreError as exc:
        if "not a DuckDB database" in str(exc):
            return  # not a database: --force replaces it
        raise
    if "real" in holds:
        raise InputError(f"database {str(p)!r} holds real data: the demo city (synthetic) is not mixed into it or built over it; "
                         "build it into a database of its own (`urbanlens demo`, $URBANLENS_HOME/demo.duckdb by default)")


ZONED_CAMERAS = ("old-town-1", "old-town-3", "university-2", "riverside-1", "northgate-2", "harbour-3")


COUNTING_CAMERAS = ("old-town-1", "university-2")
"""Demo cameras with a count line (and Market Square, ``old-town-1``, a dwell zone); synthetic counts."""
_HOURLY = {"person": 420.0, "cyclist": 70.0, "car": 380.0, "bus": 14.0, "truck": 22.0, "motorcycle": 12.0}
"""Crossings per hour at a relative level of 1 (pedestrian or traffic curve), per class."""


def demo_count_geometry(camera_id: str) -> dict[str, object]:
    """Zones JSON of a counting demo camera: one line across the street, plus a dwell zone in Market Square."""
    zones: list[dict[str, object]] = [{"name": "street", "line": [[40, 260], [728, 260]], "in": "towards centre", "out": "away from centre"}]
    if camera_id == "old-town-1":
        zones.append({"name": "square", "role": "dwell", "polygon": [[420, 120], [740, 120], [740, 240], [420, 240]]})
    return {"size": [FRAME_W, FRAME_H], "zones": zones}


def _speed_and_stop(rng: np.random.Generator, traffic: float, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Vehicle speeds (km/h) that drop as traffic rises, and whether each vehicle stood still."""
    speed = np.clip(rng.normal(42 - 18 * min(traffic, 1.3), 6, k), 3, 70)
    return speed, rng.uniform(0, 1, k) < np.clip(traffic - 0.7, 0, 0.6)


def demo_counts(rng: np.random.Generator, cam: dict[str, object], did: str, start: datetime, day_mood: float) -> CountTables:
    """Synthetic counts of one demo clip: Poisson crossings per class at the hour's rate, inbound
    share 0.65 before noon and 0.35 after, visits to a dwell zone with log-normal stays (median 30 s)."""
    prof = _camera_profile(cam, did)
    duration = FRAMES_PER_CLIP / SAMPLE_FPS
    hour, weekend = np.array([start.hour + start.minute / 60.0]), np.array([start.weekday() >= 5])
    traffic = float(_traffic(hour, weekend)[0] * prof["traffic"])
    peds = float(_pedestrians(hour, weekend, prof.get("lunch", 1.0), prof["weekend_peds"])[0] * prof["peds"] * day_mood)
    inbound = 0.65 if start.hour < 12 else 0.35
    crossings: list[dict[str, object]] = []
    tracks: list[dict[str, object]] = []
    for cls, per_hour in _HOURLY.items():
        level = peds if cls in ("person", "cyclist") else traffic
        k = int(rng.poisson(per_hour * level * duration / 3600))
        times = np.sort(rng.uniform(0, duration, k))
        speed, stopped = _speed_and_stop(rng, traffic, k) if cls not in ("person", "cyclist") else (np.full(k, np.nan), np.zeros(k, bool))
        for t, v, still in zip(times, speed, stopped, strict=True):
            tid = len(tracks) + 1
            crossings.append({"line": "street", "t_s": float(t), "class": cls, "direction": "in" if rng.uniform() < inbound else "out",
                              "track_id": tid})
            first, last = max(0.0, t - 2.5), min(duration, t + 2.5)
            tracks.append({"track_id": tid, "class": cls, "first_t_s": first, "last_t_s": last, "n_points": int((last - first) * 10) + 1,
                           "path_px": 300.0, "path_m": None if np.isnan(v) else v / 3.6 * (last - first),
                           "speed_kmh": None if np.isnan(v) else float(v), "stationary": bool(still)})
    visits: list[dict[str, object]] = []
    if cam["camera_id"] == "old-town-1":
        for _ in range(int(rng.poisson(60 * peds * duration / 3600 * 4))):
            enter = float(rng.uniform(0, duration))
            stay = float(rng.lognormal(np.log(30), 0.8))
            visits.append({"zone": "square", "class": "person", "track_id": len(tracks) + len(visits) + 1, "enter_t_s": enter,
                           "exit_t_s": min(duration, enter + stay), "dwell_s": min(duration, enter + stay) - enter,
                           "censored": enter + stay > duration})
    return CountTables(
        detector_name="synthetic-demo-detector", detector_sha256=hashlib.sha256(b"urbanlens synthetic demo detector").hexdigest(),
        track_fps=10.0, n_tracked_frames=int(duration * 10), geometry_json=json.dumps(demo_count_geometry(str(cam["camera_id"]))),
        tracks=pd.DataFrame(tracks, columns=list(COUNT_COLUMNS["tracks"])),
        crossings=pd.DataFrame(crossings, columns=list(COUNT_COLUMNS["crossings"])),
        visits=pd.DataFrame(visits, columns=list(COUNT_COLUMNS["visits"])), calibrated=True, params={"synthetic": True},
    )


def _zoned_cameras(store: Store, rng: np.random.Generator) -> list[dict[str, object]]:
    """The stored cameras as dicts, each with its ``look``; zones (a sidewalk, and count geometry on
    :data:`COUNTING_CAMERAS`) stored for :data:`ZONED_CAMERAS`."""
    cam_rows: list[dict[str, object]] = [{str(k): v for k, v in r.items()} for r in store.cameras().to_dict("records")]
    for cam in cam_rows:
        if cam["camera_id"] in ZONED_CAMERAS:
            zone = pd.DataFrame([{"zone": "sidewalk", "role": "sidewalk",
                                  "polygon_json": json.dumps([[0, 250], [250, 200], [300, 384], [0, 384]])}])
            if cam["camera_id"] in COUNTING_CAMERAS:
                zone = pd.concat([zone, read_camera_zones(json.dumps(demo_count_geometry(str(cam["camera_id"]))).encode()).rows],
                                 ignore_index=True)
            store.set_zones(str(cam["camera_id"]), zone, synthetic=True)
            cam["zones"] = True
        look_keys = ("road", "sidewalk", "built", "vegetation", "terrain", "sky", "traffic", "peds", "damage")
        cam["look"] = {k: float(np.exp(rng.normal(0, 0.25))) for k in look_keys}
    return cam_rows


def build_demo(path: str | Path, force: bool = False, seed: int = 7, days: int = DEMO_DAYS, start: date = DEMO_START) -> DemoSummary:
    """Build the demo database at ``path`` from scratch.

    Refuses to touch an existing file unless ``force``, and never replaces one that holds real
    data (footage, cameras, districts or evaluations of your own), ``force`` or not.
    """
    t0 = time.perf_counter()
    p = Path(path).expanduser()
    if p.exists():
        if p.is_dir():
            raise InputError(f"{str(p)!r} is a folder; give a file path for the database")
        _refuse_real_data(p)
        if not force:
            raise InputError(f"{str(p)!r} already exists; use --force to replace it with the demo city")
    if not 1 <= days <= 366:
        raise InputError(f"days={days}: the demo covers 1 to 366 days")
    tmp = p.with_name(p.name + ".building")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    rng = np.random.default_rng(seed)
    count_rng = np.random.default_rng([seed, 22])
    run = RunInfo(DEMO_MODEL, hashlib.sha256(b"urbanlens synthetic demo model").hexdigest(), DEMO_CLASS_SET,
                  f"fps={SAMPLE_FPS}", "off", params={"demo_seed": seed})
    with Store(tmp) as store:
        store.upsert_districts(demo_districts())
        cams = demo_cameras(rng)
        store.upsert_cameras(cams)
        cam_rows = _zoned_cameras(store, rng)
        n_clips = n_frames = 0
        for d in range(days):
            day = start + timedelta(days=d)
            mood = float(np.clip(rng.normal(1.0, 0.12), 0.6, 1.3))  # weather and events: a day-wide factor
            batch = []
            for ci, cam in enumerate(cam_rows):
                home = str(cam["district_id"] or "old-town")
                if cam["kind"] == "mobile":
                    if day.weekday() >= 5:
                        continue
                    hours = range(9, 17)
                    home = "old-town"
                else:
                    hours = range(6 + (d + ci) % 2, 23, 2)
                for h in hours:
                    minute = int(rng.integers(0, 50))
                    when = datetime.combine(day, datetime.min.time()).replace(hour=h, minute=minute)
                    clip = demo_clip_measurements(rng, cam, home, when, mood, run)
                    if cam["camera_id"] in COUNTING_CAMERAS:  # a generator of their own: the frames' numbers stay as they were
                        clip = dataclasses.replace(clip, counts=demo_counts(count_rng, cam, home, when, mood))
                    batch.append(clip)
            store.ingest(batch)
            n_clips += len(batch)
            n_frames += sum(m.n for m in batch)
    p.with_name(p.name + ".wal").unlink(missing_ok=True)  # the old file's log must not be replayed into the new one
    tmp.replace(p)  # atomic: a reader opening the database meanwhile finds the old file or the new one
    return DemoSummary(p, len(_DISTRICTS), len(cams), n_clips, n_frames, time.perf_counter() - t0)
