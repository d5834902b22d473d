"""Stream pipeline throughput: end-to-end source frames/s against decode alone, on the same video.

    uv run python benchmarks/stream.py [--onnx PATH] [--seconds 20] [--size 320x240] [--triton]

Rows (one run, same generated video):
  decode              PyAV decodes every frame, nothing else: the ceiling of any pipeline on this source
  decode+sample       + timestamp sampling at vision.stream.fps and RGB conversion of the kept frames
  onnx @ F fps        the whole pipeline (decode, sample, batches of vision.stream.batch_size, onnxruntime in
                      this process, ByteTrack, Parquet sink), sampling at F fps
  triton @ F fps      the same with the Triton ensemble (`make serve`), when a server answers
"x real time" is source frames per second over the video's own frame rate: >= 1 keeps up with a live camera.
The ONNX model is --onnx, else the champion's in the local Triton repository (`make build-serving`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any


def _modules() -> dict[str, Any]:
    """The project's vision modules; the package name comes from platform.yaml (no edit per project)."""
    import importlib

    import yaml

    package = yaml.safe_load(Path("platform.yaml").read_text(encoding="utf-8"))["project"]["package"]
    return {
        name: importlib.import_module(f"{package}.vision.{name}") for name in ("settings", "stream", "sinks", "video")
    }


def _size(text: str) -> tuple[int, int]:
    width, height = (int(part) for part in text.lower().split("x"))
    return width, height


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onnx", type=Path, default=None, help="the model step (default: the champion's)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the generated video")
    parser.add_argument("--video-fps", type=int, default=30)
    parser.add_argument("--size", type=_size, default=(320, 240), help="WIDTHxHEIGHT of the generated video")
    parser.add_argument("--triton", action="store_true", help="also the Triton ensemble (fails when none is up)")
    args = parser.parse_args(argv)
    mods = _modules()
    settings = mods["settings"].VisionSettings.from_platform()
    stream = mods["stream"]
    onnx = args.onnx or stream.champion_onnx()
    rows: list[tuple[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="stream-bench-") as scratch:
        folder = Path(scratch)
        width, height = args.size
        truth = mods["video"].write_sample_video(
            folder / "bench.mp4", seconds=args.seconds, fps=args.video_fps, width=width, height=height,
            classes=settings.classes, seed=settings.seed,
        )  # fmt: skip
        source = str(truth.path)
        print(f"video: {truth.frames} frames, {truth.width}x{truth.height} at {truth.fps} fps ({truth.codec}); "
              f"model {onnx}; stream.batch_size {settings.stream.batch_size}")  # fmt: skip

        started = time.perf_counter()
        with stream.open_source(source) as container:
            decoded = sum(1 for _ in stream.decode(container))
        rows.append(("decode", (decoded, 0, time.perf_counter() - started, None)))

        started = time.perf_counter()
        with stream.open_source(source) as container:
            kept = 0
            for _, _, frame, keep in stream.sample(stream.decode(container), settings.stream.fps):
                if keep:
                    frame.to_ndarray(format="rgb24")
                    kept += 1
        seconds = time.perf_counter() - started
        rows.append((f"decode+sample @ {settings.stream.fps:g} fps", (decoded, kept, seconds, None)))

        detectors = [("onnx", stream.make_detector("onnx", settings, onnx=onnx))]
        if args.triton:
            detectors.append(("triton", stream.make_detector("triton", settings)))
        for name, detector in detectors:
            detector.predict([truth_frame(truth)] * settings.stream.batch_size)  # warm-up: sessions, threads
            for fps in sorted({settings.stream.fps, float(truth.fps)}):
                run_settings = replace(settings, stream=replace(settings.stream, fps=fps))
                with mods["sinks"].ParquetSink(folder / "events", f"{name}-{fps:g}") as sink:
                    stats = stream.run_stream(source, detector, sink, run_settings)
                counts = (stats.frames_decoded, stats.frames_sampled, stats.seconds, stats)
                rows.append((f"{name} @ {fps:g} fps", counts))

    decode_rate = rows[0][1][0] / rows[0][1][2]
    columns = ("frames", 7), ("sampled", 8), ("seconds", 8), ("frames/s", 9), ("x real time", 12), ("vs decode", 10)
    header = f"{'path':<24} " + " ".join(f"{title:>{width}}" for title, width in columns)
    print(header)
    print("-" * len(header))
    for name, (frames, sampled, seconds, _) in rows:
        rate = frames / seconds
        print(f"{name:<24} {frames:>7} {sampled:>8} {seconds:>8.2f} {rate:>9.1f} {rate / truth.fps:>12.2f} "
              f"{rate / decode_rate:>10.3f}")  # fmt: skip
    print("\nper stage (frames/s of each stage alone; decode counts source frames, the others sampled frames):")
    for name, (_, _, _, stats) in rows:
        if stats is not None:
            stages = "  ".join(f"{stage} {value:8.1f}" for stage, value in stats.stage_fps().items())
            print(f"  {name:<22} {stages}  ({stats.detections} detections, {stats.tracks} tracks)")
    return 0


def truth_frame(truth: Any) -> Any:
    """A decoded frame of the generated video (the warm-up batch)."""
    import av

    with av.open(str(truth.path)) as container:
        for frame in container.decode(video=0):
            return frame.to_ndarray(format="rgb24")
    raise RuntimeError(f"{truth.path} has no frames")


if __name__ == "__main__":
    sys.exit(main())
