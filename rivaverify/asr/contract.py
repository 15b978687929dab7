"""The streaming contract: what a Riva stream must show, checked on a finished stream (asr.streams.StreamRun).
Each problem is one line naming the clip, what was seen and what was expected."""

from __future__ import annotations

from rivaverify.asr import segments
from rivaverify.asr.streams import StreamRun

AUDIO_SLACK_S = 0.05  # beyond one chunk, what audio_processed may exceed the audio sent by
INTERIM_FROM_S = 2.0  # a clip this long gets interim results while it is sent (Riva's partials come per chunk)


def stream_problems(s: StreamRun, offline_text: str, reference: str, chunk_s: float) -> list[str]:
    """A final that comes and holds words, interim results while audio is sent (clips of 2 s and more), finals
    that neither repeat words (across a boundary, or a phrase inside one, beyond what `reference` says) nor
    lose or add words where one ends and the next begins against `offline_text` (the clip's Recognize
    transcript), in audio order, none claiming more audio than was sent (one server chunk of slack).
    Not checked, because a healthy Riva varies: the streaming model's own misrecognitions against the offline
    one (a word missed or said otherwise inside an utterance or at the start: the streaming WER judges them),
    the last final's audio_processed against the clip's length (Riva counts whole server chunks, and
    endpointing may end the last utterance before a trailing silence), and responses paired one to one with
    chunks (only when the client's chunk is the server's: the pairing is reported, s.timing.pairing and
    flags)."""
    name = s.utterance.id
    if s.error:
        return [f"{name}: stream failed: {s.error}"]
    st, finals = s.streamed, s.streamed.finals
    if not finals:
        return [f"{name}: no result with is_final"]
    problems = []
    if s.audio.duration_s >= INTERIM_FROM_S and not [p for p in st.partials if p.chunks_sent < len(st.sent_at)]:
        problems.append(f"{name}: no interim result arrived while audio was being sent")
    texts = [f.transcript for f in finals]
    problems += [f"{name}: {r}" for r in segments.repeats(texts, reference or offline_text)]
    if lost := segments.lost(texts, offline_text):
        problems.append(f"{name}: {lost}")
    if max(f.audio_processed for f in finals) > s.audio.duration_s + chunk_s + AUDIO_SLACK_S:
        problems.append(f"{name}: a final claims audio_processed {max(f.audio_processed for f in finals):.2f} s, "
                        f"beyond the {s.audio.duration_s:.2f} s of audio sent")
    order = [f.audio_processed for f in finals]
    if order != sorted(order):
        problems.append(f"{name}: audio_processed of the finals goes back: {order}")
    return problems
