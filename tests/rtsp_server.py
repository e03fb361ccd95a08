"""A local RTSP server for the tests: a sample clip, looped, as a live stream on 127.0.0.1.

Run by the system Python (``/usr/bin/python3``, which has PyGObject) with Debian's GStreamer RTSP
server (``gir1.2-gst-rtsp-server-1.0``, ``gstreamer1.0-plugins-{base,good,bad}``,
``gstreamer1.0-libav``)::

    /usr/bin/python3 tests/rtsp_server.py --clip ../shared/samples/car-detection.mp4 [--size 640x360] [--fps 10] [--loops 4]

It decodes the clip, scales it to ``--size``, sets ``--fps`` and sends it as Motion JPEG over RTP,
``--loops`` copies of the clip one after the other (GStreamer's ``concat`` keeps the timestamps
running, so a client sees one live stream). Each client that connects gets the stream from the
start (not shared), paced in real time. It binds a free port chosen by the system and prints one
line ``READY rtsp://127.0.0.1:<port>/<path>`` on stdout when it accepts clients; SIGTERM or SIGINT
stops it. ``--check`` only says whether GStreamer's RTSP server is importable (exit 0) or not (1).
"""

from __future__ import annotations

import argparse
import signal
import sys

__all__ = ["launch_line", "main"]


def launch_line(clip: str, width: int, height: int, fps: int, loops: int) -> str:
    """The media factory's pipeline: ``loops`` decoded copies of ``clip`` joined by ``concat``, scaled,
    paced to ``fps`` and sent as RTP/JPEG (payloader ``pay0``)."""
    location = clip.replace("\\", "\\\\").replace('"', '\\"')
    branches = " ".join(f'filesrc location="{location}" ! qtdemux ! h264parse ! avdec_h264 ! c.' for _ in range(loops))
    return (f"( concat name=c ! videoconvert ! videoscale ! video/x-raw,width={width},height={height},pixel-aspect-ratio=1/1 "
            f"! videorate ! video/x-raw,framerate={fps}/1 ! jpegenc quality=85 ! rtpjpegpay name=pay0 pt=26 {branches} )")


def _import_server():  # type: ignore[no-untyped-def]
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    return GLib, Gst, GstRtspServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", help="an MP4 (H.264) clip")
    parser.add_argument("--size", default="640x360", help="WIDTHxHEIGHT of the stream (multiples of 8)")
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--loops", type=int, default=4,
                        help="copies of the clip one after the other (each is prepared when a client connects: many slow its start)")
    parser.add_argument("--path", default="/cam", help="the stream's path on the server")
    parser.add_argument("--check", action="store_true", help="only check that the RTSP server can be imported")
    args = parser.parse_args(argv)
    try:
        GLib, Gst, GstRtspServer = _import_server()
    except (ImportError, ValueError) as exc:
        print(f"GStreamer's RTSP server is not available: {exc}", file=sys.stderr)
        return 1
    Gst.init(None)
    missing = [e for e in ("qtdemux", "h264parse", "avdec_h264", "jpegenc", "rtpjpegpay", "concat") if Gst.ElementFactory.find(e) is None]
    if missing:
        print(f"GStreamer elements missing: {', '.join(missing)}", file=sys.stderr)
        return 1
    if args.check:
        return 0
    if not args.clip:
        parser.error("--clip is required")
    width, height = (int(v) for v in args.size.lower().split("x"))
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service("0")  # a free port, chosen by the system
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch_line(args.clip, width, height, args.fps, args.loops))
    factory.set_shared(False)
    server.get_mount_points().add_factory(args.path, factory)
    server.attach(None)
    loop = GLib.MainLoop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, lambda *_: (loop.quit(), False)[1])
    print(f"READY rtsp://127.0.0.1:{server.get_bound_port()}{args.path}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
