"""Text-to-speech smoke head: a linear "voice" fitted to the sample speech spectra, rendered as tones.

The audio family's rows are one-second clips summarised as 16 normalised band energies. fit learns
a tiny linear voice from the training rows labelled `speech`: their mean energy profile, the top
principal components (and their spread), and the noise floor (mean profile of the `noise` rows).
A word becomes one spectrogram frame: the mean plus the components weighted by pseudo-normal values
drawn from the word's CRC32, so the same word gives the same frame in every process. A request's
text gives one frame per word (the first `frames` words); the frames after the last word are
silence (the fitted noise floor). The waveform renders each word frame as a sum of sines at the
band centre frequencies (amplitude sqrt(energy), phases from the word's hash, a short fade at both
ends against clicks) and each silence frame as quiet noise shaped to the floor, from a fixed seed.

Synthesis needs no core model: serving never calls it. evaluate closes the loop instead: it
analyses the rendered audio back into band energies (`analyse`, the inverse of rendering) and asks
the trained sound classifier whether the word frames sound like speech, against white noise of the
same length. It is not intelligible speech; production replaces it with a neural TTS model.

Everything is deterministic without NumPy's generators (whose streams NumPy does not promise to
keep across versions): word values come from a splitmix64 sequence seeded with the word's CRC32,
the silence noise from a fixed seed, and the rendering sums bands in a fixed order with elementwise
operations only (no BLAS), so a row's outputs do not depend on the batch it arrives in.
"""

from __future__ import annotations

import math
import zlib
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from . import (
    TEXT_KINDS,
    Arrays,
    Core,
    FloatArray,
    Head,
    TaskEvaluation,
    decode_text,
    encode_text,
    register,
    require_input,
)
from .text import tokens

Float64Array = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

COMPONENTS = 3  # principal components of the speech spectra the voice varies along
ENERGY_FLOOR = 1e-3  # smallest band energy of a word frame (before normalising)
SPACING_HZ = 250.0  # band b is centred at SPACING_HZ * (b + 1) and spans +- half the spacing
GAIN = 0.25  # sine amplitude per sqrt(energy): sum sqrt(e) <= sqrt(bands) = 4, so |audio| <= 1 for 16 bands
SILENCE_RMS = 0.01  # level of the silence noise (about -25 dB below a word frame)
FADE_S = 0.005  # raised-cosine fade in and out of every frame
SILENCE_SEED = 20260301
EVAL_TEXTS = 200
MAX_WORDS_PER_EXAMPLE = 8
# Distinct words must differ by this mean absolute band energy, and a word's occurrences by less: far above
# the roundtrip error of a word frame (~1e-8), far below the band fluctuation of white noise (~1e-2).
DISTINCT_TOLERANCE = 0.001
# The examples' vocabulary (any word works at serving time: its frame comes from its hash).
WORDS = tuple(
    word
    for line in (
        "hello world good morning evening please thank you yes no stop start open close left right up",
        "down red green blue one two three four five time home light music call play next back today",
        "weather alarm timer kitchen door window volume louder quiet water coffee train station ticket city river",
    )
    for word in line.split()
)

_MASK64 = (1 << 64) - 1


def splitmix_uniforms(seed: int, count: int) -> list[float]:
    """`count` uniforms in (0, 1) from splitmix64 seeded with `seed`: pure integer arithmetic, so
    the same seed gives the same values on every platform and NumPy version."""
    state, values = seed & _MASK64, []
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & _MASK64
        mixed = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        mixed = ((mixed ^ (mixed >> 27)) * 0x94D049BB133111EB) & _MASK64
        mixed ^= mixed >> 31
        values.append(((mixed >> 11) + 0.5) / float(1 << 53))
    return values


@lru_cache(maxsize=4096)
def word_draws(word: str, components: int, bands: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """A word's pseudo-normal component weights z [components] (Box-Muller) and sine phases [bands],
    all from the word's CRC32 (the same word gives the same values everywhere)."""
    pairs = (components + 1) // 2
    uniforms = splitmix_uniforms(zlib.crc32(word.encode("utf-8")), 2 * pairs + bands)
    normals: list[float] = []
    for index in range(pairs):
        radius = math.sqrt(-2.0 * math.log(uniforms[2 * index]))
        angle = 2.0 * math.pi * uniforms[2 * index + 1]
        normals += [radius * math.cos(angle), radius * math.sin(angle)]
    phases = tuple(2.0 * math.pi * value for value in uniforms[2 * pairs :])
    return tuple(normals[:components]), phases


def band_centres(bands: int) -> Float64Array:
    """Centre frequency (Hz) of each band: SPACING_HZ * (band + 1)."""
    return SPACING_HZ * (np.arange(bands, dtype=np.float64) + 1.0)


def _band_bins(bands: int, frame_length: int, sample_rate: int) -> list[tuple[int, int]]:
    """Per band the rfft bin range [lo, hi) of one frame whose frequency lies within centre +- spacing/2."""
    frequencies = np.fft.rfftfreq(frame_length, 1.0 / sample_rate)
    ranges = []
    for centre in band_centres(bands).tolist():
        inside = np.flatnonzero((frequencies >= centre - SPACING_HZ / 2) & (frequencies < centre + SPACING_HZ / 2))
        ranges.append((int(inside[0]), int(inside[-1]) + 1))
    return ranges


def _fade(frame_length: int, sample_rate: int) -> Float64Array:
    """Raised-cosine ramps in and out of a frame (FADE_S each, at most a quarter of the frame)."""
    ramp = max(1, min(round(FADE_S * sample_rate), frame_length // 4))
    envelope = np.ones(frame_length, dtype=np.float64)
    rising = 0.5 - 0.5 * np.cos(np.pi * (np.arange(ramp) + 0.5) / ramp)
    envelope[:ramp], envelope[-ramp:] = rising, rising[::-1]
    return envelope


@lru_cache(maxsize=8)
def _silence_phases(frames: int, bins: int) -> Float64Array:
    """Fixed random phases [frames, bins] of the silence noise (one set per frame position)."""
    uniforms = splitmix_uniforms(SILENCE_SEED, frames * bins)
    phases = 2.0 * np.pi * np.asarray(uniforms, dtype=np.float64).reshape(frames, bins)
    phases.setflags(write=False)
    return phases


def render(
    spectrogram: npt.NDArray[np.floating[Any]],
    phases: npt.NDArray[np.floating[Any]],
    voiced: npt.NDArray[np.bool_],
    sample_rate: int = 16000,
) -> FloatArray:
    """Audio [n, sample_rate] (one second) of spectrogram frames [n, frames, bands].

    A voiced frame is a sum of sines at the band centres, amplitude GAIN * sqrt(energy), phases
    [n, frames, bands]; an unvoiced frame is quiet noise with the frame's band energies (fixed
    random phases, so every call gives the same samples). Both fade in and out.
    """
    spectrogram = np.asarray(spectrogram, dtype=np.float64)
    count, frames, _ = spectrogram.shape
    frame_length = sample_rate // frames
    voiced = np.asarray(voiced, dtype=bool)
    audio = np.zeros((count, frames, frame_length), dtype=np.float64)
    audio[voiced] = tone_frames(spectrogram[voiced], np.asarray(phases, dtype=np.float64)[voiced], frames, sample_rate)
    positions = np.broadcast_to(np.arange(frames), (count, frames))[~voiced]
    audio[~voiced] = noise_frames(spectrogram[~voiced], positions, frames, sample_rate)
    return np.asarray(
        (audio * _fade(frame_length, sample_rate)).reshape(count, frames * frame_length), dtype=np.float32
    )


def tone_frames(
    energy: npt.NDArray[np.floating[Any]], phases: npt.NDArray[np.floating[Any]], frames: int, sample_rate: int
) -> Float64Array:
    """Samples [m, frame_length] (before the fade) of m frames' band energies [m, bands]: a sine per band
    at its centre frequency, amplitude GAIN * sqrt(energy), the given phases [m, bands]."""
    energy = np.asarray(energy, dtype=np.float64)
    frame_length = sample_rate // frames
    time = np.arange(frame_length, dtype=np.float64) / sample_rate
    angles = 2.0 * np.pi * band_centres(energy.shape[1])[:, None] * time[None, :]
    sines, cosines = np.sin(angles), np.cos(angles)
    amplitude = GAIN * np.sqrt(np.clip(energy, 0.0, None))
    in_phase, quadrature = amplitude * np.cos(phases), amplitude * np.sin(phases)
    samples = np.zeros((len(energy), frame_length), dtype=np.float64)
    for band in range(energy.shape[1]):  # fixed summation order, elementwise: the same for any batch
        samples += in_phase[:, band, None] * sines[band] + quadrature[:, band, None] * cosines[band]
    return samples


def noise_frames(
    energy: npt.NDArray[np.floating[Any]], positions: npt.NDArray[np.integer[Any]], frames: int, sample_rate: int
) -> Float64Array:
    """Quiet noise [m, frame_length] (before the fade, RMS SILENCE_RMS) with m frames' band energies.

    Each band's energy is spread over a comb of every third FFT bin inside the band, with fixed
    random phases per frame position: a Hann window (see `analyse`) smears a bin only into its two
    neighbours, so the analysed band energies come back exactly.
    """
    energy = np.asarray(energy, dtype=np.float64)
    frame_length = sample_rate // frames
    bins = frame_length // 2 + 1
    spectrum = np.zeros((len(energy), bins), dtype=np.float64)
    for band, (low, high) in enumerate(_band_bins(energy.shape[1], frame_length, sample_rate)):
        comb = np.arange(low + 1, high - 1, 3)
        spectrum[:, comb] = np.sqrt(np.clip(energy[:, band, None], 0.0, None) / len(comb))
    phases = _silence_phases(frames, bins)[np.asarray(positions, dtype=np.int64)]
    noise = np.fft.irfft(spectrum * np.exp(1j * phases), n=frame_length, axis=-1)
    rms = np.sqrt(np.mean(noise**2, axis=-1, keepdims=True))
    return np.asarray(noise * (SILENCE_RMS / np.where(rms > 0, rms, 1.0)), dtype=np.float64)


def analyse(
    audio: npt.NDArray[np.floating[Any]], frames: int = 8, bands: int = 16, sample_rate: int = 16000
) -> FloatArray:
    """Band energies [n, frames, bands] of audio [n, samples]: the inverse of `render`.

    Each of `frames` equal frames is Hann-windowed and Fourier-transformed; a band's energy is the
    power within its centre +- half the spacing, normalised so a frame's bands sum to 1 (an all-zero
    frame stays zero).
    """
    audio = np.asarray(audio, dtype=np.float64)
    count = len(audio)
    frame_length = audio.shape[1] // frames if audio.ndim == 2 else 0
    if count == 0 or frame_length == 0:
        return np.zeros((count, frames, bands), dtype=np.float32)
    chunks = audio[:, : frames * frame_length].reshape(count, frames, frame_length) * np.hanning(frame_length + 1)[:-1]
    power = np.abs(np.fft.rfft(chunks, axis=-1)) ** 2
    energy = np.stack(
        [power[..., low:high].sum(axis=-1) for low, high in _band_bins(bands, frame_length, sample_rate)], axis=-1
    )
    total = energy.sum(axis=-1, keepdims=True)
    return np.asarray(energy / np.where(total > 0, total, 1.0), dtype=np.float32)


def example_texts(rng: np.random.Generator, count: int) -> tuple[list[str], IntArray]:
    """`count` texts of 1-MAX_WORDS_PER_EXAMPLE words from WORDS, and their word counts."""
    lengths = rng.integers(1, MAX_WORDS_PER_EXAMPLE + 1, count).astype(np.int64)
    texts = [" ".join(WORDS[index] for index in rng.integers(0, len(WORDS), int(length))) for length in lengths]
    return texts, lengths


@register
class SpeechSynthesizer(Head):
    """Text -> one spectrogram frame per word (a fitted linear voice) -> one second of tones.

    Params (numeric arrays only): `mean` [bands] and `components` [COMPONENTS, bands] / `spread`
    [COMPONENTS] of the speech rows' energy profiles, and `floor` [bands], the normalised mean
    profile of the noise rows (the silence frames).
    """

    name = "speech_synthesizer"

    def __init__(self, classes: tuple[str, ...], options: dict[str, Any]) -> None:
        super().__init__(classes, options)
        for needed in ("speech", "noise"):
            if needed not in self.classes:
                raise ValueError(f"speech_synthesizer: class {needed!r} is not one of {list(self.classes)}")
        self.speech, self.noise = self.classes.index("speech"), self.classes.index("noise")
        self.frames = int(self.options.get("frames", 8))
        self.bands = int(self.options.get("bands", 16))
        self.sample_rate = int(self.options.get("sample_rate", 16000))
        self.text_bytes = int(self.options.get("text_bytes", 256))
        if self.frames < 1 or self.bands < 1 or self.sample_rate % self.frames:
            raise ValueError(
                f"speech_synthesizer: frames ({self.frames}) and bands ({self.bands}) must be positive and "
                f"divide the sample rate ({self.sample_rate}) into equal frames"
            )
        if SPACING_HZ * (self.bands + 0.5) >= self.sample_rate / 2:
            raise ValueError(
                f"speech_synthesizer: {self.bands} bands of {SPACING_HZ:g} Hz do not fit below the Nyquist "
                f"frequency of {self.sample_rate} Hz"
            )
        frame_length = self.sample_rate // self.frames
        if frame_length * SPACING_HZ / self.sample_rate < 4:
            raise ValueError(f"speech_synthesizer: frames of {frame_length} samples cannot resolve the bands")

    def fit(self, core: Core, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator) -> Arrays:
        """The linear voice of the training rows labelled speech (PCA), and the noise rows' floor.

        The core is not used (the voice is fitted on the features); missing classes fall back to a
        flat profile and a voice without components, so fit never fails on a small split.
        """
        del core, rng
        rows = np.asarray(x, dtype=np.float64).reshape(len(x), self.bands)
        labels = np.asarray(y, dtype=np.int64)
        flat = np.full(self.bands, 1.0 / self.bands)
        speech, noise = rows[labels == self.speech], rows[labels == self.noise]
        mean = speech.mean(axis=0) if len(speech) else flat
        components = np.zeros((COMPONENTS, self.bands))
        spread = np.zeros(COMPONENTS)
        if len(speech) > 1:
            _, singular, vectors = np.linalg.svd(speech - mean, full_matrices=False)
            kept = min(COMPONENTS, len(singular))
            # SVD signs are arbitrary: make each component's largest entry positive
            signs = np.sign(vectors[np.arange(kept), np.argmax(np.abs(vectors[:kept]), axis=1)])
            components[:kept] = vectors[:kept] * np.where(signs == 0, 1.0, signs)[:, None]
            spread[:kept] = singular[:kept] / math.sqrt(len(speech) - 1)
        floor = noise.mean(axis=0) if len(noise) else flat
        floor = np.clip(floor, ENERGY_FLOOR, None)
        return {
            "mean": mean.astype(np.float32),
            "components": components.astype(np.float32),
            "spread": spread.astype(np.float32),
            "floor": (floor / floor.sum()).astype(np.float32),
        }

    def word_frames(self, params: Arrays, words: list[str]) -> FloatArray:
        """Band energies [len(words), bands] of words: mean + sum_i component_i * spread_i * z_i(word),
        clipped at ENERGY_FLOOR and normalised to sum 1."""
        components = np.asarray(params["components"], dtype=np.float64)
        weights = np.asarray(params["spread"], dtype=np.float64)
        z = np.asarray([word_draws(word, len(components), self.bands)[0] for word in words], dtype=np.float64).reshape(
            len(words), len(components)
        )
        frames = np.broadcast_to(np.asarray(params["mean"], dtype=np.float64), (len(words), self.bands)).copy()
        for index in range(len(components)):  # fixed order, elementwise: batch-independent
            frames += components[index] * (weights[index] * z[:, index])[:, None]
        frames = np.clip(frames, ENERGY_FLOOR, None)
        return np.asarray(frames / frames.sum(axis=1, keepdims=True), dtype=np.float32)

    def synthesize(self, params: Arrays, texts: list[str]) -> tuple[FloatArray, FloatArray, IntArray]:
        """Spectrograms [n, frames, bands], audio [n, sample_rate] and word counts [n] of texts."""
        words = [tokens(text)[: self.frames] for text in texts]
        counts = np.asarray([len(row) for row in words], dtype=np.int64)
        spectrogram = np.broadcast_to(
            np.asarray(params["floor"], dtype=np.float32), (len(texts), self.frames, self.bands)
        ).copy()
        voiced = np.arange(self.frames)[None, :] < counts[:, None]
        # Every silence frame at a position sounds the same, and every word the same wherever it is:
        # render each once, then place them (the same samples as `render` of the whole batch).
        floor = np.asarray(params["floor"], dtype=np.float64)
        positions = np.arange(self.frames)
        silence = noise_frames(
            np.broadcast_to(floor, (self.frames, self.bands)), positions, self.frames, self.sample_rate
        )
        samples = np.broadcast_to(silence, (len(texts), *silence.shape)).copy()
        unique = sorted({word for row in words for word in row})
        if unique:
            energy = self.word_frames(params, unique)
            phases = np.asarray([word_draws(word, len(params["components"]), self.bands)[1] for word in unique])
            tones = tone_frames(energy, phases, self.frames, self.sample_rate)
            position = {word: index for index, word in enumerate(unique)}
            which = np.asarray([position[word] for row in words for word in row], dtype=np.int64)
            spectrogram[voiced], samples[voiced] = energy[which], tones[which]
        samples *= _fade(samples.shape[2], self.sample_rate)
        audio = np.asarray(samples.reshape(len(texts), self.sample_rate), dtype=np.float32)
        return spectrogram, audio, counts

    def infer(self, core: Core, params: Arrays, inputs: Arrays) -> Arrays:
        """Serving: no core call (the voice is in params)."""
        del core
        text = require_input(inputs, "text", (self.text_bytes,), TEXT_KINDS)
        spectrogram, audio, _ = self.synthesize(params, decode_text(text))
        return {"spectrogram": spectrogram, "audio": audio}

    def examples(
        self, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator, count: int
    ) -> tuple[Arrays, Any]:
        """Texts of 1-8 words from a built-in word list (the rows are not needed); truth: word counts."""
        del x, y
        texts, lengths = example_texts(rng, count)
        return {"text": encode_text(texts, self.text_bytes)}, lengths

    def evaluate(
        self, core: Core, params: Arrays, x: FloatArray, y: npt.NDArray[np.int64], rng: np.random.Generator
    ) -> TaskEvaluation:
        """Does the audio sound like speech to the trained classifier, and does it carry the words?

        The audio is analysed back into band energies; speech_share (primary) is the share of word
        frames the core labels speech; roundtrip_error the mean absolute difference between the
        analysed frames and the spectrogram output; distinct_words the share of distinct words whose
        analysed frames agree across occurrences and differ from every other word's. The baseline is
        white noise of the same length, analysed and scored the same way.
        """
        count = EVAL_TEXTS if len(x) else 0
        texts, _ = example_texts(rng, count)
        spectrogram, audio, counts = self.synthesize(params, texts)
        white = rng.standard_normal(audio.shape).astype(np.float32) * np.float32(GAIN)
        voiced = np.arange(self.frames)[None, :] < counts[:, None]
        words = [word for text in texts for word in tokens(text)[: self.frames]]
        results = {}
        for label, sound in (("head", audio), ("baseline", white)):
            analysed = analyse(sound, self.frames, self.bands, self.sample_rate)
            scores = np.asarray(core(np.ascontiguousarray(analysed[voiced], dtype=np.float32)))
            labels = np.argmax(scores, axis=1) if len(scores) else np.zeros(0, dtype=np.int64)
            results[label] = {
                "speech_share": float(np.mean(labels == self.speech)) if len(labels) else 0.0,
                "roundtrip_error": float(np.mean(np.abs(analysed - spectrogram))) if count else 0.0,
                "distinct_words": distinct_share(words, analysed[voiced]),
            }
        return TaskEvaluation(
            primary="speech_share",
            metrics=results["head"],
            baseline=results["baseline"],
            examples=count,
            notes=[
                f"{count} synthetic texts of 1-{MAX_WORDS_PER_EXAMPLE} words from {len(WORDS)} built-in words "
                f"({int(voiced.sum())} word frames); the audio is analysed back into {self.bands} band energies "
                f"per frame and the word frames are classified by the core",
                "baseline: white noise of the same length, analysed and classified the same way",
                f"voice: mean speech profile + {len(params['components'])} principal components "
                f"(spread {np.round(params['spread'], 4).tolist()}); silence = the noise rows' mean profile",
                "smoke stand-in: tones with speech-like band energies, not intelligible speech",
            ],
        )


def distinct_share(words: list[str], frames: npt.NDArray[np.floating[Any]]) -> float:
    """Share of distinct words whose frames [len(words), bands] agree across the word's occurrences
    (within DISTINCT_TOLERANCE mean absolute difference) and differ from every other word's first frame."""
    if not words:
        return 0.0
    frames = np.asarray(frames, dtype=np.float64)
    first: dict[str, int] = {}
    for index, word in enumerate(words):
        first.setdefault(word, index)
    names = list(first)
    reference = frames[[first[word] for word in names]]
    position = {word: index for index, word in enumerate(names)}
    owner = np.asarray([position[word] for word in words])
    consistent = np.ones(len(names), dtype=bool)
    deviation = np.abs(frames - reference[owner]).mean(axis=1)
    np.logical_and.at(consistent, owner, deviation < DISTINCT_TOLERANCE)
    apart = np.abs(reference[:, None, :] - reference[None, :, :]).mean(axis=2)
    np.fill_diagonal(apart, np.inf)
    separate = apart.min(axis=1) >= DISTINCT_TOLERANCE
    return float(np.mean(consistent & separate))
