"""A local sample video for the stream pipeline: coloured shapes moving on known trajectories.

The local profile has no camera, so `make video` writes one with PyAV (H.264 when the wheel's FFmpeg
has an encoder for it, else MPEG-4). The shapes are the training set's classes; every object moves on
a straight line and bounces off the borders, so its exact box at any time is known (`VideoTruth.boxes`)
and tests can check sampling and tracking on real decoded frames.

    python -m <package>.vision.video [--out PATH] [--seconds 10] [--fps 30] [--size 320x240] [--if-missing]

--out defaults to vision.stream.source (data/video/sample.mp4).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle", "cross")
COLOURS = ((220, 40, 40), (40, 170, 60), (40, 80, 220), (230, 180, 30), (170, 60, 200), (30, 190, 200))
# Codec preference: H.264 (what cameras and RTSP servers send), then MPEG-4 part 2 (every FFmpeg build has it).
CODECS = ("libx264", "h264", "mpeg4")


@dataclass(frozen=True)
class MovingObject:
    shape: str  # one of SHAPES
    class_index: int  # index into the class list the video was made for
    colour: tuple[int, int, int]
    width: float
    height: float
    x0: float  # top-left corner at t=0, pixels
    y0: float
    vx: float  # pixels per second
    vy: float


@dataclass(frozen=True)
class VideoTruth:
    """What the video shows: objects, frame rate and size, so boxes at any time can be recomputed."""

    path: Path
    codec: str
    fps: int
    frames: int
    width: int
    height: int
    objects: tuple[MovingObject, ...]

    @property
    def seconds(self) -> float:
        return self.frames / self.fps

    def boxes(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Exact boxes (xyxy float32 [N,4]) and class indices (int64 [N]) at `t` seconds, one row per object."""
        rows = [_box_at(item, t, self.width, self.height) for item in self.objects]
        classes = np.array([item.class_index for item in self.objects], dtype=np.int64)
        return np.array(rows, dtype=np.float32).reshape(-1, 4), classes


def _bounce(start: float, speed: float, t: float, span: float) -> float:
    """Position on [0, span] of a point moving at `speed` from `start` that reflects off both ends."""
    if span <= 0:
        return 0.0
    travelled = (start + speed * t) % (2 * span)
    return travelled if travelled <= span else 2 * span - travelled


def _box_at(item: MovingObject, t: float, width: int, height: int) -> tuple[float, float, float, float]:
    x = _bounce(item.x0, item.vx, t, width - item.width)
    y = _bounce(item.y0, item.vy, t, height - item.height)
    return (x, y, x + item.width, y + item.height)


def _draw(draw: ImageDraw.ImageDraw, item: MovingObject, box: tuple[float, float, float, float]) -> None:
    x1, y1, x2, y2 = box
    if item.shape == "circle":
        draw.ellipse(box, fill=item.colour)
    elif item.shape == "square":
        draw.rectangle(box, fill=item.colour)
    elif item.shape == "triangle":
        draw.polygon([((x1 + x2) / 2, y1), (x2, y2), (x1, y2)], fill=item.colour)
    else:  # cross: two bars through the centre
        bar_w, bar_h = (x2 - x1) / 3, (y2 - y1) / 3
        draw.rectangle((x1, y1 + bar_h, x2, y2 - bar_h), fill=item.colour)
        draw.rectangle((x1 + bar_w, y1, x2 - bar_w, y2), fill=item.colour)


def make_objects(
    classes: Sequence[str], width: int, height: int, count: int, rng: np.random.Generator
) -> tuple[MovingObject, ...]:
    """`count` objects of the drawable classes, each crossing the frame in a few seconds."""
    drawable = [(index, name) for index, name in enumerate(classes) if name in SHAPES]
    if not drawable:
        raise ValueError(f"none of the classes {list(classes)} is a shape the video can draw ({', '.join(SHAPES)})")
    side = min(width, height)
    objects = []
    for number in range(count):
        index, name = drawable[number % len(drawable)]
        w, h = (float(v) for v in rng.uniform(0.18, 0.3, size=2) * side)
        speed = rng.uniform(0.15, 0.35) * side  # pixels per second: a few px per frame at 30 fps
        angle = rng.uniform(0, 2 * np.pi)
        objects.append(
            MovingObject(
                shape=name,
                class_index=index,
                colour=COLOURS[number % len(COLOURS)],
                width=w,
                height=h,
                x0=float(rng.uniform(0, width - w)),
                y0=float(rng.uniform(0, height - h)),
                vx=float(speed * np.cos(angle)),
                vy=float(speed * np.sin(angle)),
            )
        )
    return tuple(objects)


def render_frame(truth: VideoTruth, t: float, background: np.ndarray) -> np.ndarray:
    """The RGB frame (HxWx3 uint8) at `t` seconds."""
    image = Image.fromarray(background)
    draw = ImageDraw.Draw(image)
    boxes, _ = truth.boxes(t)
    for item, box in zip(truth.objects, boxes, strict=True):
        _draw(draw, item, (float(box[0]), float(box[1]), float(box[2]), float(box[3])))
    return np.asarray(image)


def pick_codec() -> str:
    """The first encoder of CODECS this PyAV wheel carries."""
    for name in CODECS:
        try:
            av.codec.Codec(name, "w")
        except (av.codec.codec.UnknownCodecError, ValueError):
            continue
        return name
    raise RuntimeError(f"this PyAV build has none of the encoders {', '.join(CODECS)}; install PyPI's `av` wheel")


def write_sample_video(
    path: Path,
    *,
    seconds: float = 10.0,
    fps: int = 30,
    width: int = 320,
    height: int = 240,
    classes: Sequence[str] = SHAPES,
    objects: int = 3,
    seed: int = 7,
    codec: str | None = None,
) -> VideoTruth:
    """Write the sample video to `path` (mp4) and return what it shows."""
    if width % 2 or height % 2:
        raise ValueError(f"video width and height must be even (yuv420p), got {width}x{height}")
    if fps <= 0 or seconds <= 0:
        raise ValueError(f"fps and seconds must be positive, got fps={fps} seconds={seconds}")
    rng = np.random.default_rng(seed)
    chosen = codec or pick_codec()
    truth = VideoTruth(
        path=path,
        codec=chosen,
        fps=fps,
        frames=max(1, round(seconds * fps)),
        width=width,
        height=height,
        objects=make_objects(classes, width, height, objects, rng),
    )
    # A still noise texture like the training images' background; still, so it costs the encoder little.
    background = rng.normal(110, 18, size=(height, width, 3)).clip(0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(chosen, rate=fps)
        if not isinstance(stream, av.VideoStream):
            raise TypeError(f"{chosen} is not a video encoder")
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, fps)
        if chosen == "libx264":
            stream.options = {"preset": "veryfast", "crf": "23"}
        else:
            stream.bit_rate = 2_000_000
        for index in range(truth.frames):
            frame = av.VideoFrame.from_ndarray(render_frame(truth, index / fps, background), format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))  # flush the encoder's delayed frames
    return truth


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--size must look like 320x240, got {text!r}") from None
    return width, height


def main(argv: Sequence[str] | None = None) -> int:
    from .settings import VisionSettings

    parser = argparse.ArgumentParser(prog="vision.video", description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="the video file (default: platform.yaml vision.stream.source)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--size", type=_size, default=(320, 240), help="WIDTHxHEIGHT, both even")
    parser.add_argument("--objects", type=int, default=3)
    parser.add_argument("--if-missing", action="store_true", help="only when the file does not exist (make stream)")
    args = parser.parse_args(argv)
    settings = VisionSettings.from_platform()
    if args.out is None and "://" in settings.stream.source:
        if args.if_missing:  # a camera or stream URL: nothing to generate
            return 0
        parser.error(f"vision.stream.source is a URL ({settings.stream.source}); pass --out PATH for the sample video")
    out = settings.path(args.out or settings.stream.source)
    if args.if_missing and out.is_file():
        return 0
    width, height = args.size
    truth = write_sample_video(
        out, seconds=args.seconds, fps=args.fps, width=width, height=height, classes=settings.classes,
        objects=args.objects, seed=settings.seed,
    )  # fmt: skip
    print(f"video: {out} ({truth.codec}, {truth.width}x{truth.height}, {truth.fps} fps, {truth.frames} frames, "
          f"{len(truth.objects)} moving objects)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
