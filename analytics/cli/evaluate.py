"""``urbanlens evaluate``: score an installed model against annotated frames and store the result.

Reads the ground truth (:mod:`analytics.evaluation.readers`), runs the model by the scoring rule
of :mod:`analytics.evaluation.run`, prints per-class IoU, mIoU, pixel accuracy, frequency-weighted
IoU and the land-cover indicator errors with 95% bootstrap intervals, optionally writes the JSON,
and stores one row in the ``evaluations`` table (the same evaluation again replaces it). Any bad
input stops the command with one line before anything is stored.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from analytics.cli._common import DbOption, console, db_path, err_console, say_wait
from analytics.errors import InputError
from analytics.evaluation.labelmaps import load_label_map
from analytics.evaluation.readers import FORMATS, read_ground_truth
from analytics.evaluation.run import Evaluation, evaluate, scoring_label_map
from analytics.models.roadcard import DEFAULT_ROAD_MODEL
from analytics.models.zoo import resolve, with_road
from analytics.settings import load_settings
from analytics.store import open_store, save_evaluation

__all__ = ["evaluate_command", "register"]


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _signed(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:+.1f}"


def _interval(bounds: list[float | None], signed: bool) -> str:
    fmt = _signed if signed else _num
    return f"[{fmt(bounds[0])}, {fmt(bounds[1])}]"


def print_evaluation(ev: Evaluation) -> None:
    """The scores as two tables: per-class IoU with the headline numbers, then indicator errors."""
    d = ev.to_dict()
    h, w = ev.input_size
    road = ev.options.get("road_model")
    what = f"{ev.model_name} + road model {road}" if road else f"{ev.model_name} alone"
    title = f"{what} ({h}x{w}) on {ev.n_images} {ev.dataset_format} images, label map {ev.label_map.name}"
    classes = Table(title=escape(title))
    classes.add_column("class")
    classes.add_column("group")
    classes.add_column("IoU %", justify="right")
    for c in d["classes"]:
        classes.add_row(escape(c["name"]), escape(c["group"]), _num(d["iou"][c["name"]]))
    classes.add_section()
    classes.add_row("mIoU", "", _num(d["miou"]))
    classes.add_row("pixel accuracy", "", _num(d["pixel_accuracy"]))
    classes.add_row("frequency-weighted IoU", "", _num(d["fw_iou"]))
    console.print(classes)
    if d["indicator_error_pp"]:
        ind = Table(title="Indicator error per image, prediction minus truth (percentage points, 95% bootstrap interval)")
        for col in ("indicator", "bias", "bias 95%", "MAE", "MAE 95%", "images"):
            ind.add_column(col, justify="left" if col == "indicator" else "right")
        for name, e in d["indicator_error_pp"].items():
            ind.add_row(name, _signed(e["bias"]), _interval(e["bias_ci95"], signed=True), _num(e["mae"]),
                        _interval(e["mae_ci95"], signed=False), str(e["images"]))
        console.print(ind)
    console.print(f"mIoU {_num(d['miou'])}  pixel accuracy {_num(d['pixel_accuracy'])}  fwIoU {_num(d['fw_iou'])}  "
                  f"({ev.images_per_second:.2f} images/s)", highlight=False)


def evaluate_command(
    model: Annotated[str | None, typer.Option("--model", help="Installed model name (default: espnetv2-s2).")] = None,
    images: Annotated[Path | None, typer.Option("--images", help="Folder of images (cvat-mask: optional, else the export's JPEGImages/).")] = None,
    masks: Annotated[Path | None, typer.Option("--masks", help="Folder of masks; for cvat-mask the export (zip or folder).")] = None,
    fmt: Annotated[str, typer.Option("--format", help=f"Ground-truth layout: {' | '.join(FORMATS)}.")] = "camvid",
    label_map: Annotated[str | None, typer.Option("--label-map", help="Built-in map name or JSON file {model class: annotation class}.")] = None,
    camera: Annotated[str | None, typer.Option("--camera", help="The camera these frames come from (a stored camera id).")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the full result as JSON to this file.")] = None,
    db: DbOption = None,
    no_store: Annotated[bool, typer.Option("--no-store", help="Print (and write --json) only; store nothing.")] = False,
    refine: Annotated[str, typer.Option("--refine", help="Label refinement: none | crf (dense CRF, parameters in the model card).")] = "none",
    tta: Annotated[str, typer.Option("--tta", help="Test-time augmentation: none | flip | scales | flip+scales.")] = "none",
    road_model: Annotated[str, typer.Option("--road-model", help="Road model run beside the segmenter, as the analysis runs it; "
                                                   "'none': the segmenter alone.")] = DEFAULT_ROAD_MODEL,
) -> None:
    """Score a model against annotated frames: IoU per class, mIoU, pixel accuracy, indicator bias."""
    if masks is None:
        raise InputError("--masks is required: the mask folder, or the CVAT export for --format cvat-mask")
    if fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}; accepted: {', '.join(FORMATS)}")
    settings = load_settings()
    segmenter = resolve(model or settings.default_model, settings)
    gt = read_ground_truth(fmt, masks, images)
    lm = scoring_label_map(segmenter.card.class_set, gt, load_label_map(label_map) if label_map else None)
    path = db_path(db)
    if camera is not None and not no_store:
        # fail on an unknown camera before the long part
        with open_store(path, read_only=False, lock_timeout_s=settings.lock_timeout_s, on_wait=say_wait) as store:
            store.camera(camera)
    # the road model last: installing it (from the mirror or the network) comes after every input is checked
    installed = with_road(segmenter, road_model, settings)
    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        road = f" + {installed.road.name}" if installed.road is not None else ""
        task = bar.add_task(f"scoring {installed.card.name}{road}", total=len(gt.samples))
        result = evaluate(installed, gt, lm, threads=settings.threads, spin=settings.ort_spin, refine=refine, tta=tta,
                          progress=lambda done, _n: bar.update(task, completed=done))
    print_evaluation(result)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(result.to_json(), encoding="utf-8")
        console.print(f"json: {json_out}", highlight=False, markup=False)
    if no_store:
        return
    with open_store(path, lock_timeout_s=settings.lock_timeout_s, on_wait=say_wait) as store:
        key, replaced = save_evaluation(store, result.to_row(camera))
    what = "replaced the stored evaluation" if replaced else "stored evaluation"
    console.print(f"{what} {key[:12]} in {path}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add the ``evaluate`` command to ``app``."""
    app.command("evaluate")(evaluate_command)
