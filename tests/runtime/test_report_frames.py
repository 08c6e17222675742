"""Node reports travel as frames that each fit in one atomic pipe write."""

from __future__ import annotations

import multiprocessing
import select

from paxos_exp.runtime.node_process import read_frame, send_report

PIPE_BUF = select.PIPE_BUF


class _Recorder:
    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def send_bytes(self, data: bytes) -> None:
        self.frames.append(bytes(data))


def test_a_large_report_is_split_into_atomic_frames_and_rebuilt():
    message = ("trial", 3, 7, [(r, (1, 2, 3, 4, 5, 6), r % 3, None) for r in range(20_000)], None)
    recorder = _Recorder()
    send_report(recorder, message)
    assert len(recorder.frames) > 10
    # 4 bytes of length header (added by Connection.send_bytes) + the frame itself.
    assert all(4 + len(frame) <= PIPE_BUF for frame in recorder.frames)
    pending = bytearray()
    rebuilt = [read_frame(frame, pending) for frame in recorder.frames]
    assert rebuilt[:-1] == [None] * (len(recorder.frames) - 1)
    assert rebuilt[-1] == message and not pending


def test_frames_through_a_real_pipe():
    receiver, sender = multiprocessing.Pipe(duplex=False)
    small, big = ("ready", 1), ("trial", 0, 0, list(range(50_000)), None)
    send_report(sender, small)
    pending = bytearray()
    assert read_frame(receiver.recv_bytes(), pending) == small
    got = None
    writer = multiprocessing.get_context("fork").Process(target=send_report, args=(sender, big))
    writer.start()
    while got is None:
        assert receiver.poll(30), "no frame within 30 s"
        got = read_frame(receiver.recv_bytes(), pending)
    writer.join(30)
    assert got == big and writer.exitcode == 0
    receiver.close()
    sender.close()
