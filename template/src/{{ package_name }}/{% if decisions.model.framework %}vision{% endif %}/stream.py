"""The stream pipeline: video source -> decode -> sample -> batched detection -> ByteTrack -> events.

    source (file, rtsp://, http(s):// ...; PyAV/FFmpeg)  -> decode every frame (H.264 needs them all)
    -> keep one frame per 1/vision.stream.fps seconds of presentation time (not every n-th frame, so a
       variable-rate camera samples evenly) -> batches of vision.stream.batch_size
    -> a Detector (Triton's ensemble over tritonclient, or onnxruntime in process)
    -> ByteTrack (the `trackers` package, Roboflow's maintained successor of supervision's ByteTrack)
    -> one event per tracked object and frame, to a Parquet folder or a Redis stream (sinks.py).

    python -m <package>.vision.stream [--source S] [--detector triton|onnx] [--onnx PATH] [--max-frames N]

Batching trades latency for throughput: a live source's events lag by up to batch_size / fps seconds.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from .sinks import Event, Sink, make_sink

if TYPE_CHECKING:
    import av.container

    from .inference import Detections
    from .settings import StreamSettings, VisionSettings

URL_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")
OPEN_TIMEOUT_SECONDS = 10.0  # connecting to a network source
READ_TIMEOUT_SECONDS = 10.0  # a network source that stops sending ends the run instead of hanging it
# A sampled frame may sit this far before its slot (pts rounding of 1/30 s steps in a 1/15360 time base).
SAMPLING_SLACK_SECONDS = 1e-3
# ByteTrack confirms a track after this many consecutive matches: one-frame false positives start none.
MIN_CONSECUTIVE_FRAMES = 2
PROGRESS_EVERY_SECONDS = 5.0


class Detector(Protocol):
    def predict(self, frames: list[npt.NDArray[np.uint8]]) -> list[Detections]: ...


@dataclass(frozen=True)
class Frame:
    index: int  # position in the source's decoded order
    pts: float  # presentation time in seconds
    image: npt.NDArray[np.uint8]  # HxWx3 RGB


@dataclass
class StreamStats:
    """What a run did and how fast each stage was (seconds are wall time spent in the stage)."""

    source: str
    sink: str = ""
    frames_decoded: int = 0
    frames_sampled: int = 0
    detections: int = 0  # detector outputs above the score threshold
    events: int = 0  # tracked detections written to the sink
    tracks: int = 0  # distinct track ids
    seconds: float = 0.0
    decode_seconds: float = 0.0  # decode + RGB conversion of the sampled frames
    detect_seconds: float = 0.0
    track_seconds: float = 0.0
    sink_seconds: float = 0.0
    source_seconds: float = 0.0  # presentation time covered (last pts - first pts)
    interrupted: bool = False  # stopped by Ctrl-C or SIGTERM before the source ended
    track_ids: set[int] = field(default_factory=set, repr=False)

    @staticmethod
    def _rate(count: int, seconds: float) -> float:
        return count / seconds if seconds > 0 else 0.0

    @property
    def fps(self) -> float:
        """Source frames per second end to end (compare with the source's own frame rate)."""
        return self._rate(self.frames_decoded, self.seconds)

    @property
    def sampled_fps(self) -> float:
        return self._rate(self.frames_sampled, self.seconds)

    def stage_fps(self) -> dict[str, float]:
        """Frames per second of each stage alone: decode counts source frames, the others sampled frames."""
        return {
            "decode": self._rate(self.frames_decoded, self.decode_seconds),
            "detect": self._rate(self.frames_sampled, self.detect_seconds),
            "track": self._rate(self.frames_sampled, self.track_seconds),
            "sink": self._rate(self.frames_sampled, self.sink_seconds),
        }

    def as_dict(self) -> dict[str, Any]:
        keys = ("source", "sink", "frames_decoded", "frames_sampled", "detections", "events", "tracks", "seconds")
        out: dict[str, Any] = {key: getattr(self, key) for key in keys}
        out.update(fps=self.fps, sampled_fps=self.sampled_fps, source_seconds=self.source_seconds)
        out.update({f"{stage}_fps": value for stage, value in self.stage_fps().items()})
        return out

    def summary(self) -> str:
        stages = ", ".join(f"{stage} {value:.1f}" for stage, value in self.stage_fps().items())
        return (
            f"stream: {self.frames_decoded} frames decoded ({self.source_seconds:.1f} s of video), "
            f"{self.frames_sampled} sampled, {self.detections} detections, {self.events} events, "
            f"{self.tracks} tracks in {self.seconds:.2f} s: {self.fps:.1f} source frames/s end to end; "
            f"frames/s per stage: {stages}; events -> {self.sink}"
        )


def is_url(source: str) -> bool:
    return source.lower().startswith(URL_SCHEMES)


def open_source(source: str, root: Path | None = None) -> av.container.InputContainer:
    """Open a file (relative to `root`) or a network URL with PyAV; errors name the setting and the fix."""
    import av

    if is_url(source):
        options = {"rtsp_transport": "tcp"} if source.lower().startswith(("rtsp://", "rtsps://")) else {}
        try:
            return av.open(source, options=options, timeout=(OPEN_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS))
        except av.FFmpegError as error:
            raise ConnectionError(f"vision.stream.source: cannot open {source} ({error})") from error
    path = Path(source)
    if not path.is_absolute() and root is not None:
        path = root / path
    if not path.is_file():
        raise FileNotFoundError(
            f"vision.stream.source: {path} does not exist; `make video` writes the sample video there, "
            "or set vision.stream.source (or --source) to a video file or an rtsp:// / http(s):// URL"
        )
    try:
        return av.open(str(path))
    except av.FFmpegError as error:
        raise ValueError(f"vision.stream.source: {path} is not a video FFmpeg can read ({error})") from error


def decode(container: av.container.InputContainer, *, max_frames: int = 0) -> Iterator[tuple[int, float, Any]]:
    """(index, pts seconds, av.VideoFrame) for every frame of the first video stream, in presentation order."""
    if not container.streams.video:
        raise ValueError("vision.stream.source has no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"  # FFmpeg's frame + slice threads: decode is the one stage that sees every frame
    rate = float(stream.average_rate or stream.guessed_rate or 30)
    for index, frame in enumerate(container.decode(stream)):
        if max_frames and index >= max_frames:
            return
        pts = frame.time if frame.time is not None else index / rate  # some raw streams carry no timestamps
        yield index, float(pts), frame


def sample(frames: Iterator[tuple[int, float, Any]], fps: float) -> Iterator[tuple[int, float, Any, bool]]:
    """Mark the frames to keep: the first at or after each 1/fps step of presentation time since the first
    frame (a 30 fps source at 5 fps keeps frames 0, 6, 12, ...). Yields (index, pts, frame, keep)."""
    step = 1.0 / fps
    start: float | None = None
    next_slot = 0.0
    for index, pts, frame in frames:
        if start is None:
            start = pts
        elapsed = pts - start
        keep = elapsed + SAMPLING_SLACK_SECONDS >= next_slot
        if keep:
            # the next slot after this frame's: a late frame (a gap in a live stream) does not cause a burst
            next_slot = (math.floor((elapsed + SAMPLING_SLACK_SECONDS) / step) + 1) * step
        yield index, pts, frame, keep


def make_tracker(settings: StreamSettings) -> Any:
    from trackers import ByteTrackTracker

    return ByteTrackTracker(
        # counted in 30 fps frames whatever the rate (trackers' convention): 30 keeps a lost track 1 s
        lost_track_buffer=settings.lost_track_buffer,
        frame_rate=settings.fps,
        track_activation_threshold=settings.track_threshold,
        high_conf_det_threshold=settings.track_threshold,
        minimum_consecutive_frames=MIN_CONSECUTIVE_FRAMES,
    )


def run_stream(
    source: str,
    detector: Detector,
    sink: Sink,
    settings: VisionSettings,
    *,
    max_frames: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> StreamStats:
    """Run the pipeline over `source` until it ends (or max_frames source frames); the caller closes `sink`."""
    import supervision as sv

    stream = settings.stream
    limit = stream.max_frames if max_frames is None else max_frames
    tracker = make_tracker(stream)
    stats = StreamStats(source=source, sink=sink.target)
    batch: list[Frame] = []
    first_pts: float | None = None
    started = last_report = time.perf_counter()

    def flush() -> None:
        if not batch:
            return
        tick = time.perf_counter()
        found = detector.predict([frame.image for frame in batch])
        stats.detect_seconds += time.perf_counter() - tick
        if len(found) != len(batch):
            raise RuntimeError(f"the detector returned {len(found)} results for {len(batch)} frames")
        events: list[Event] = []
        tick = time.perf_counter()
        for frame, detections in zip(batch, found, strict=True):
            stats.detections += len(detections)
            tracked = tracker.update(
                sv.Detections(
                    xyxy=detections.boxes.astype(np.float32).reshape(-1, 4),
                    confidence=detections.scores.astype(np.float32),
                    class_id=detections.classes.astype(int),
                ),
                timestamp=frame.pts,
            )
            ids = tracked.tracker_id if tracked.tracker_id is not None else np.full(len(tracked), -1)
            rows = zip(tracked.xyxy, tracked.confidence, tracked.class_id, ids, strict=True)
            for box, score, class_id, track_id in rows:
                if track_id < 0:  # not confirmed yet (MIN_CONSECUTIVE_FRAMES)
                    continue
                stats.track_ids.add(int(track_id))
                events.append(
                    Event(
                        frame=frame.index,
                        pts=frame.pts,
                        track_id=int(track_id),
                        class_name=settings.classes[int(class_id)],
                        score=float(score),
                        x1=float(box[0]),
                        y1=float(box[1]),
                        x2=float(box[2]),
                        y2=float(box[3]),
                    )
                )
        stats.track_seconds += time.perf_counter() - tick
        tick = time.perf_counter()
        sink.write(events)
        stats.sink_seconds += time.perf_counter() - tick
        stats.events += len(events)
        stats.tracks = len(stats.track_ids)
        batch.clear()

    container = open_source(source, settings.root)
    try:
        frames = sample(decode(container, max_frames=limit), stream.fps)
        while True:
            tick = time.perf_counter()
            item = next(frames, None)
            if item is not None and item[3]:
                batch.append(Frame(item[0], item[1], item[2].to_ndarray(format="rgb24")))
            stats.decode_seconds += time.perf_counter() - tick
            if item is None:
                break
            index, pts, _, keep = item
            first_pts = pts if first_pts is None else first_pts
            stats.frames_decoded = index + 1
            stats.source_seconds = pts - first_pts
            if keep:
                stats.frames_sampled += 1
            if len(batch) >= stream.batch_size:
                flush()
            now = time.perf_counter()
            if progress is not None and now - last_report >= PROGRESS_EVERY_SECONDS:
                last_report = now
                stats.seconds = now - started
                progress(
                    f"stream: {stats.frames_decoded} frames read, {stats.frames_sampled} sampled, "
                    f"{stats.events} events, {stats.tracks} tracks, {stats.fps:.1f} frames/s"
                )
        flush()
    except KeyboardInterrupt:
        # a live source never ends: Ctrl-C (or SIGTERM, see main) stops the run; the caller still closes
        # the sink, so its events so far are kept. An unfinished batch (< batch_size frames) is dropped.
        stats.interrupted = True
    finally:
        container.close()
    stats.seconds = time.perf_counter() - started
    return stats


def local_triton_url(protocol: str) -> str:
    """The URL of the Triton server `make serve` started (its recorded ports), else platform.yaml's
    serving host and ports (the cloud worker reaches the `triton` Service through SERVING_HOST)."""
    from ..serving.server import is_running, read_record
    from ..serving.settings import ServingSettings

    serving = ServingSettings.from_platform()
    record = read_record(serving.state_dir)
    if record is not None and is_running(int(record["pid"])):
        return f"{record['host']}:{record['ports']['grpc' if protocol == 'grpc' else 'http']}"
    return serving.url(protocol)


def champion_onnx() -> Path:
    """The served model step's ONNX in the local Triton repository (`make build-serving` puts the champion's there)."""
    from ..serving.settings import ServingSettings
    from .triton import MODEL_FILE, step_names

    serving = ServingSettings.from_platform()
    path = serving.repository / step_names(serving.model_name)["onnx"] / "1" / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run `make build-serving` (the champion's) or pass --onnx PATH")
    return path


def make_detector(kind: str, settings: VisionSettings, *, onnx: Path | None = None, protocol: str = "grpc") -> Detector:
    """`onnx`: onnxruntime in this process; `triton`: the ensemble, one request per frame, a batch in flight at
    once so the model step's dynamic batcher sees them together."""
    if kind == "onnx":
        from .inference import OnnxDetector

        return OnnxDetector(onnx or champion_onnx(), settings)
    from ..serving.settings import ServingSettings
    from .client import TritonDetector, VisionClient

    url = local_triton_url(protocol)
    model = ServingSettings.from_platform().model_name
    client = VisionClient(url, protocol, model, concurrency=settings.stream.batch_size)
    if not client.is_ready():
        raise ConnectionError(f"no Triton serving {model} at {url}: start it with `make serve`, or use --detector onnx")
    return TritonDetector(client)


def main(argv: Sequence[str] | None = None) -> int:
    from .settings import VisionSettings

    settings = VisionSettings.from_platform()
    parser = argparse.ArgumentParser(prog="vision.stream", description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=settings.stream.source, help="video file or URL (vision.stream.source)")
    parser.add_argument("--detector", choices=["triton", "onnx"], default="triton")
    parser.add_argument("--onnx", type=Path, default=None, help="--detector onnx: the model step (default: champion)")
    parser.add_argument("--protocol", choices=["http", "grpc"], default="grpc", help="Triton client protocol")
    parser.add_argument("--sink", default=settings.stream.sink, help="folder or redis:// URL (vision.stream.sink)")
    parser.add_argument("--max-frames", type=int, default=None, help="stop after N source frames (0: until the end)")
    args = parser.parse_args(argv)
    run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    # Kubernetes stops the worker with SIGTERM: handled like Ctrl-C, so the last batch and the sink are closed
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        detector = make_detector(args.detector, settings, onnx=args.onnx, protocol=args.protocol)
        # one blank frame first: sessions, thread pools and lazy imports load outside the measured run
        detector.predict([np.zeros((settings.image_size, settings.image_size, 3), dtype=np.uint8)])
        with make_sink(args.sink, root=settings.root, key=settings.stream.stream_key, run_id=run_id) as sink:
            stats = run_stream(args.source, detector, sink, settings, max_frames=args.max_frames, progress=print)
    except (FileNotFoundError, ConnectionError, ValueError) as error:
        print(f"stream: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # stopped while loading the detector, before any frame
        print("stream: stopped before the first frame", file=sys.stderr)
        return 130
    print(stats.summary() + (" (interrupted)" if stats.interrupted else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
