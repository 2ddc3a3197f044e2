"""The masking stage: secret values become *** before any sink, wherever the chunks split them."""

from __future__ import annotations

import pytest

from essh.executor.events import AttemptEnded, Notice, OutputChunk, RunEnded, StepEnded
from essh.executor.masking import MaskingBus, mask_patterns


class Collect:
    def __init__(self) -> None:
        self.events: list = []

    def emit(self, event) -> None:
        self.events.append(event)

    def output(self, step: int = 0) -> bytes:
        return b"".join(e.data for e in self.events if isinstance(e, OutputChunk) and e.step == step)


def run(chunks: list[bytes], values: list[str]) -> Collect:
    sink = Collect()
    bus = MaskingBus(sink, values)  # type: ignore[arg-type]
    for chunk in chunks:
        bus.emit(OutputChunk(0, "stdout", chunk))
    bus.emit(StepEnded(0, "succeeded", 1.0))
    return sink


TEXT = b"before hunter2 middle hunter2hunter2 after hunt"


@pytest.mark.parametrize("cut", range(1, len(TEXT)))
def test_a_secret_split_anywhere_is_masked(cut):
    out = run([TEXT[:cut], TEXT[cut:]], ["hunter2"]).output()
    assert out == b"before *** middle ****** after hunt"


def test_every_byte_its_own_chunk():
    assert run([bytes([b]) for b in TEXT], ["hunter2"]).output() == b"before *** middle ****** after hunt"


def test_only_a_possible_start_is_held_back():
    sink = Collect()
    bus = MaskingBus(sink, ["hunter2"])  # type: ignore[arg-type]
    bus.emit(OutputChunk(0, "stdout", b"plain line\nand a hu"))
    assert sink.output() == b"plain line\nand a "  # "hu" may begin the secret
    bus.emit(OutputChunk(0, "stdout", b"ge thing\n"))
    assert sink.output() == b"plain line\nand a huge thing\n"


def test_held_output_is_released_before_the_attempt_ends():
    sink = Collect()
    bus = MaskingBus(sink, ["hunter2"])  # type: ignore[arg-type]
    bus.emit(OutputChunk(0, "stdout", b"hunt"))
    bus.emit(AttemptEnded(0, 1, "succeeded", 0.0, 1.0))
    assert [type(e).__name__ for e in sink.events] == ["OutputChunk", "AttemptEnded"]
    assert sink.output() == b"hunt"


def test_multi_line_secret_whole_lines_and_terminal_line_ends():
    key = "-----BEGIN KEY-----\nabcdefgh\n-----END KEY-----"
    assert run([b"x " + key.encode() + b" y"], [key]).output() == b"x *** y"
    assert run([key.replace("\n", "\r\n").encode()], [key]).output() == b"***"
    assert run([b"line: abcdefgh\n"], [key]).output() == b"line: ***\n"
    assert "ab" not in mask_patterns([key + "\nab"])  # short lines only as part of the whole


def test_streams_and_steps_are_held_apart():
    sink = Collect()
    bus = MaskingBus(sink, ["hunter2"])  # type: ignore[arg-type]
    bus.emit(OutputChunk(0, "stdout", b"hun"))
    bus.emit(OutputChunk(0, "stderr", b"ter2"))
    bus.emit(OutputChunk(1, "stdout", b"ter2"))
    bus.emit(RunEnded(2.0))
    assert b"".join(e.data for e in sink.events if isinstance(e, OutputChunk)) == b"ter2ter2hun"


def test_texts_of_events_are_masked():
    sink = Collect()
    bus = MaskingBus(sink, ["hunter2"])  # type: ignore[arg-type]
    bus.emit(StepEnded(0, "failed", 1.0, error="exit 1: hunter2 refused"))
    bus.emit(Notice("about hunter2"))
    bus.emit(RunEnded(2.0, error="boom hunter2"))
    assert [getattr(e, "error", None) or getattr(e, "text", None) for e in sink.events] == [
        "exit 1: *** refused", "about ***", "boom ***"
    ]


def test_no_secret_no_change():
    sink = Collect()
    bus = MaskingBus(sink, [""])  # type: ignore[arg-type]
    event = OutputChunk(0, "stdout", b"hunt")
    bus.emit(event)
    assert sink.events == [event]


@pytest.mark.parametrize("cut", range(1, 14))
def test_overlapping_secrets_are_masked_as_one_span(cut):
    """Two secrets that overlap in the output (the end of one is the start of the other) hide all of both."""
    text = b"x=abcd-ef.gh!"
    out = run([text[:cut], text[cut:]], ["abcd-ef", "ef.gh"]).output()
    assert out == b"x=***!"
