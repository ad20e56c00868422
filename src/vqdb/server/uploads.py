"""A file uploaded in a multipart form (Qdrant's snapshot upload), streamed to disk.

The request is read chunk by chunk and every byte counts against the limit, whatever
Content-Length says (a chunked upload has none): past it the upload is cut off with 413 and
nothing more is written. The file part goes straight into the caller's file, not through a
temporary file elsewhere (Starlette's form parser spools files to the system's temp folder,
a tmpfs on many machines), and the other fields are skipped unread.
"""

from __future__ import annotations

from pathlib import Path

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request


async def receive_file(request: Request, field: str, into: Path, limit: int, setting: str) -> bool:
    """Writes the file in the form's `field` into `into`; False if the form has no such field.
    HTTPException 413 once more than `limit` bytes of body arrive (`setting` names the limit
    in the message), 400 for a body that is not a multipart form."""
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise HTTPException(400, f"expected a multipart form with the file in its '{field}' field")

    def too_large() -> HTTPException:
        return HTTPException(
            413, f"Payload too large: the upload is over the limit of {limit >> 20} MB ({setting})"
        )

    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large()

    state = _Parts(field.encode())
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": state.begin,
            "on_header_field": state.header_field,
            "on_header_value": state.header_value,
            "on_header_end": state.header_end,
            "on_headers_finished": state.headers_finished,
            "on_part_data": state.data,
            "on_part_end": state.end,
        },
    )
    received = 0
    with into.open("wb") as out:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise too_large()
            try:
                parser.write(chunk)
            except FormParserError as e:
                raise HTTPException(400, f"malformed multipart form: {e}") from None
            if state.pending:
                pending, state.pending = b"".join(state.pending), []
                await run_in_threadpool(out.write, pending)
            if state.problem:
                raise HTTPException(400, state.problem)
        try:
            parser.finalize()
        except FormParserError as e:
            raise HTTPException(400, f"malformed multipart form: {e}") from None
    if state.seen and not state.finished:
        raise HTTPException(400, f"the form's '{field}' field is cut short")
    return state.seen


class _Parts:
    """The parser's callbacks: collects the wanted field's data in `pending` (written by
    receive_file between chunks, off the event loop)."""

    def __init__(self, field: bytes) -> None:
        self.field = field
        self.pending: list[bytes] = []
        self.problem = ""
        self.seen = False  # the field began
        self.finished = False  # and ended
        self._name = b""
        self._value = b""
        self._disposition = b""
        self._wanted = False

    def begin(self) -> None:
        self._disposition = b""
        self._wanted = False

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def header_end(self) -> None:
        if self._name.lower() == b"content-disposition":
            self._disposition = self._value
        self._name = self._value = b""

    def headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        self._wanted = options.get(b"name") == self.field
        if self._wanted:
            if self.seen:
                self.problem = f"the form has more than one '{self.field.decode()}' field"
            self.seen = True

    def data(self, data: bytes, start: int, end: int) -> None:
        if self._wanted and not self.problem:
            self.pending.append(data[start:end])

    def end(self) -> None:
        if self._wanted:
            self.finished = True
