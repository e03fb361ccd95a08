"""CLI commands for models: ``urbanlens models list|install|add`` and ``urbanlens segment``.

:mod:`analytics.cli` calls :func:`register` on its typer app. Errors are raised as
:class:`~analytics.errors.UrbanLensError` subclasses; ``analytics.cli.main`` prints them as one line.

``segment`` resizes an image of another size to the model input by the card's resize policy
(the built-in cards use ``letterbox``: keep the aspect ratio, scale to fit, centre, pad with the
mean colour; see :mod:`analytics.footage.segment`). The labels PNG holds one class id per pixel at the
model input size, with letterbox padding written as the void class; ``--keep-size`` maps the
labels back onto the image's own pixels instead (nearest neighbour).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TaskID, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from analytics.errors import DataFormatError, InputError, UrbanLensError
from analytics.evaluation.adapt import AdaptOptions, adapt, check_adapted_name
from analytics.evaluation.annotations import load_annotations
from analytics.evaluation.labelmaps import load_label_map
from analytics.evaluation.readers import read_ground_truth
from analytics.footage.overlay import overlay
from analytics.footage.segment import Segmenter, labels_to_frame
from analytics.models.roadcard import DEFAULT_ROAD_MODEL
from analytics.models.zoo import (
    InstalledModel,
    add_model,
    builtin_cards,
    builtin_detector_cards,
    builtin_road_cards,
    install,
    install_detector,
    install_road,
    list_models,
    parse_size,
    resolve,
    resolve_road,
    with_road,
)
from analytics.settings import Settings, load_settings

__all__ = ["register", "models_app"]

models_app = typer.Typer(help="List, show, install and add segmentation models and object detectors.", no_args_is_help=True)


def _megabytes(n: int | None) -> str:
    return "-" if n is None else f"{n / 1e6:.1f} MB"


@models_app.command("list")
def list_command() -> None:
    """Installed and available models, with input size, licence and size on disk."""


    settings = load_settings()
    table = Table(title=f"Models ({settings.model_dir})")
    for col in ("name", "status", "input (HxW)", "licence", "size", "path"):
        table.add_column(col)
    for m in list_models(settings):
        status = "installed" if m.installed else "available"
        if not m.builtin:
            status += " (own)"
        if m.task != "semantic-segmentation":
            status += " (road model)" if m.task == "road-segmentation" else " (detector)"
        h, w = m.input_size
        table.add_row(m.name, status, f"{h}x{w}", m.license, _megabytes(m.size_bytes), str(m.path or "-"))
    Console(width=160).print(table)


@models_app.command("install")
def install_command(
    name: str = typer.Argument(..., help="Built-in model name, e.g. espnetv2-s2."),
    size: str | None = typer.Option(None, "--size", help="Model input HEIGHTxWIDTH, multiples of 16 (default: the card's, 384x768)."),
    source: str | None = typer.Option(None, "--source", help="Take the weights from this FILE, DIR or URL instead of the mirror or upstream."),
    force: bool = typer.Option(False, "--force", help="Rebuild even when the model is installed at this size."),
    road_model: str = typer.Option(DEFAULT_ROAD_MODEL, "--road-model",
                                   help="Road model installed with a segmenter (run beside it); 'none': not."),
) -> None:
    """Fetch the upstream weights (SHA-256 checked), build the ONNX model and install it; prints its path.
    A segmenter comes with the road model the analysis runs beside it (``--road-model``).

    A model already installed at the size asked for is left as it is (no download): the command says so.
    """
    settings = load_settings()
    if name in builtin_detector_cards():
        _install_detector_command(name, size, source, settings)
        return
    if name in builtin_road_cards():
        typer.echo(str(install_road(name, settings, source=source).onnx_path))
        return
    hw = parse_size(size) if size else None
    present = _installed_as(name, hw, settings) if not (force or source) else None
    if present is not None:
        Console(stderr=True).print(f"{name} is already installed ({'x'.join(map(str, present.card.input_size))}); "
                                   "nothing to fetch. Use --force to rebuild it.", highlight=False, markup=False)
        resolve_road(road_model, settings, install_missing=True)  # the road model beside it, if not there yet
        typer.echo(str(present.onnx_path))
        return

    columns = ("[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"fetching {name} weights", total=None)

        def progress(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        model = install(name, settings, size=hw, source=source, progress=progress, road_model=road_model)
    typer.echo(str(model.onnx_path))


def _install_detector_command(name: str, size: str | None, source: str | None, settings: Settings) -> None:
    """Install built-in detector ``name`` (fixed input size) and print its ONNX path."""
    card = builtin_detector_cards()[name]
    if size is not None and parse_size(size) != card.input_size:
        raise InputError(f"detector {name!r} runs at {card.input_height}x{card.input_width} only; leave out --size")
    columns = ("[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"fetching {name}", total=None)
        _, onnx_path = install_detector(name, settings, source=source,
                                        progress=lambda done, total: bar.update(task, completed=done, total=total))
    typer.echo(str(onnx_path))


@models_app.command("show")
def show_command(name: str = typer.Argument(..., help="A built-in model or detector name, e.g. deimv2-femto.")) -> None:
    """A built-in model's or detector's card: task, input, licence, source, classes."""
    detectors, segmenters = builtin_detector_cards(), builtin_cards()
    if name in detectors:
        d = detectors[name]
        groups = ", ".join(f"{c} -> {g}" for c, g in d.groups.items())
        lines = [f"{d.name} ({d.task}, output {d.output_format})", f"input: {d.input_height}x{d.input_width} {d.channel_order}, "
                 f"resize {d.resize}, scale {d.scale:g}", f"score threshold: {d.score_threshold:g}",
                 f"classes: {d.class_set} ({len(d.class_names)}); groups: {groups} (others ignored)"]
        card_license, attribution, source_url, sha = d.license, d.attribution, d.source_url, d.sha256
    elif name in segmenters:
        c = segmenters[name]
        lines = [f"{c.name} ({c.task})", f"input: {c.input_height}x{c.input_width} {c.channel_order}, resize {c.resize}",
                 f"classes: {c.class_set.name} ({c.num_classes})"]
        card_license, attribution, source_url, sha = c.license, c.attribution, c.source_url, c.sha256
    else:
        raise InputError(f"unknown model {name!r}; built-in: {', '.join([*segmenters, *detectors])}")
    lines += [f"licence: {card_license}", f"attribution: {attribution}", f"source: {source_url}", f"sha256: {sha}"]
    typer.echo("\n".join(lines))


def _installed_as(name: str, size: tuple[int, int] | None, settings: Settings) -> InstalledModel | None:
    """The installed model ``name`` when it exists with a readable ONNX file and (if given) input ``size``; else None."""
    try:
        model = resolve(name, settings)
    except UrbanLensError:
        return None
    if not model.onnx_path.is_file() or (size is not None and tuple(model.card.input_size) != tuple(size)):
        return None
    return model


@models_app.command("add")
def add_command(
    onnx_file: Path = typer.Argument(..., help="Your ONNX segmentation model (input N,3,H,W; output N,classes,h,w)."),
    card: Path = typer.Option(..., "--card", help="Its model card (.toml, .json or .yaml)."),
    force: bool = typer.Option(False, "--force", help="Replace a model installed under the card's name."),
) -> None:
    """Check an ONNX model against its card and install it under the card's name; prints its path.

    A model already installed under that name is kept (the command refuses) unless --force.
    """
    model = add_model(onnx_file, card, load_settings(), force=force)
    typer.echo(str(model.onnx_path))


def read_image(path: Path) -> np.ndarray:
    """An image file as a BGR ``uint8 (H, W, 3)`` array; a clear error for anything else."""
    if not path.is_file():
        raise InputError(f"image {str(path)!r} does not exist")
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise DataFormatError(f"{path.name} is not an image OpenCV can read (PNG, JPEG, BMP, TIFF, WebP, ...)")
    return image


def _affine(scale_x: float, scale_y: float, offset_x: float, offset_y: float) -> np.ndarray:
    return np.array([[scale_x, 0.0, offset_x], [0.0, scale_y, offset_y]], dtype=np.float64)


def frame_in_model_space(frame: np.ndarray, geometry: object) -> np.ndarray:
    """The frame placed as the model sees it (resized, cropped or padded to the input size), for overlays."""
    g = geometry
    m = _affine(g.scale_x, g.scale_y, g.offset_x, g.offset_y)  # type: ignore[attr-defined]
    size = (g.input_w, g.input_h)  # type: ignore[attr-defined]
    return cv2.warpAffine(frame, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def _write_png(path: Path, image: np.ndarray, what: str) -> None:
    if path.suffix.lower() != ".png":
        raise InputError(f"{what} {str(path)!r}: expected a .png file name (lossless)")
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise InputError(f"{what} {str(path)!r} could not be encoded")
    buf.tofile(str(path))


def segment_command(
    image: Path = typer.Argument(..., help="A street image (PNG, JPEG, ...)."),
    out: Path = typer.Option(..., "--out", help="Where to write the labels: a uint8 PNG of class ids."),
    model: str | None = typer.Option(None, "--model", help="Installed model name (default: espnetv2-s2)."),
    overlay_path: Path | None = typer.Option(None, "--overlay", help="Also write a colour overlay with a legend (PNG)."),
    keep_size: bool = typer.Option(False, "--keep-size", help="Write labels at the image's size instead of the model input size."),
    refine: str = typer.Option("none", "--refine", help="Label refinement: none | crf (dense CRF, parameters in the model card)."),
    tta: str = typer.Option("none", "--tta", help="Test-time augmentation: none | flip | scales | flip+scales."),
    road_model: str = typer.Option(DEFAULT_ROAD_MODEL, "--road-model", help="Road model fused with the labels; 'none': the segmenter alone."),
) -> None:
    """Segment one image: per-pixel class ids (and an optional colour overlay with a legend)."""
    settings = load_settings()
    installed = with_road(resolve(model or settings.default_model, settings), road_model, settings)
    frame = read_image(image)
    card = installed.card
    segmenter = Segmenter(installed.onnx_path, card, threads=settings.threads, spin=settings.ort_spin, refine=refine,
                          tta=tta).set_road(installed.road)
    result = segmenter.segment(frame)
    void_ids = card.class_set.class_ids("void")
    fill = void_ids[0] if void_ids else 0
    labels = result.labels.copy()
    y0, y1, x0, x1 = result.geometry.content
    outside = np.ones(labels.shape, bool)
    outside[y0:y1, x0:x1] = False
    labels[outside] = fill
    if keep_size:
        labels = labels_to_frame(labels, result.geometry, fill)
        base = frame
    else:
        base = frame_in_model_space(frame, result.geometry)
    _write_png(out, labels, "--out")
    typer.echo(f"labels: {out} ({labels.shape[1]}x{labels.shape[0]}, model {card.name})")
    if overlay_path is not None:
        _write_png(overlay_path, overlay(base, labels, card.class_set), "--overlay")
        typer.echo(f"overlay: {overlay_path}")


@models_app.command("adapt")
def adapt_command(
    base: str = typer.Argument(..., help="Installed base model, e.g. espnetv2-s2 (kept frozen)."),
    name: str = typer.Option(..., "--name", help="Name of the adapted model to install."),
    annotations: str | None = typer.Option(None, "--annotations", help="A stored annotation set id (urbanlens annotate import)."),
    images: Path | None = typer.Option(None, "--images", help="Folder of annotated images (with --masks and --format)."),
    masks: Path | None = typer.Option(None, "--masks", help="Folder of masks, or the CVAT export for --format cvat-mask."),
    fmt: str = typer.Option("camvid", "--format", help="Ground-truth layout: camvid | cityscapes | cvat-mask."),
    holdout: float = typer.Option(0.25, "--holdout", help="Share of frames held out (whole sequences or blocks) to check the new head."),
    label_map: str | None = typer.Option(None, "--label-map", help="Map of base classes onto annotation classes, to score the base."),
    seed: int = typer.Option(0, "--seed", help="Seed of the holdout split and the pixel sample."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the result as JSON to this file."),
    force: bool = typer.Option(False, "--force", help="Replace a model installed under --name."),
) -> None:
    """Fit a new classification head on the frozen base for the annotation's classes; install it if it beats the base.

    The name is checked before anything is read: a model installed under it is kept unless --force.
    """
    settings = load_settings()
    installed = resolve(base, settings)
    check_adapted_name(name, installed, settings, force)
    if (annotations is None) == (masks is None):
        raise InputError("give either --annotations ID or --images DIR --masks DIR --format F")
    gt = load_annotations(annotations, settings).ground_truth if annotations else read_ground_truth(fmt, masks, images)  # type: ignore[arg-type]
    lm = load_label_map(label_map) if label_map else None
    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        result = adapt(installed, gt, name, settings, AdaptOptions(holdout=holdout, label_map=lm, seed=seed), progress=progress,
                       force=force)
    d = result.to_dict()
    table = Table(title=f"{name}: head on {base} for {len(result.class_names)} classes, held out {result.holdout_frames} frames")
    for col in ("class", "group", f"{base} IoU %", f"{name} IoU %"):
        table.add_column(col, justify="left" if col in ("class", "group") else "right")
    for c in d["classes"]:
        b, a = d["holdout_iou"]["base"][c["name"]], d["holdout_iou"]["adapted"][c["name"]]
        table.add_row(c["name"], c["group"], "-" if b is None else f"{b:.1f}", "-" if a is None else f"{a:.1f}")
    table.add_section()
    table.add_row("mIoU", "", f"{d['holdout_miou']['base']:.1f}", f"{d['holdout_miou']['adapted']:.1f}")
    Console(width=120).print(table)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(d, indent=2), encoding="utf-8")
        typer.echo(f"json: {json_out}")
    if result.installed is None:
        typer.echo(f"not installed: {name} scores {d['holdout_miou']['adapted']:.1f} mIoU on the held-out frames, "
                   f"not above {base}'s {d['holdout_miou']['base']:.1f}", err=True)
        raise typer.Exit(1)
    typer.echo(f"installed {name} (mIoU {d['holdout_miou']['adapted']:.1f} vs {d['holdout_miou']['base']:.1f} held out, "
               f"blend weight {d['blend']['weight']} with the base): "
               f"{result.installed.onnx_path}")


def register(app: typer.Typer) -> None:
    """Add the ``models`` sub-commands and the ``segment`` command to ``app``."""
    app.add_typer(models_app, name="models")
    app.command("segment")(segment_command)
