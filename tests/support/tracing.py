"""A fake OTLP/HTTP trace collector."""

from __future__ import annotations

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from socle_dev.stub_http import Answer, Recorded, StubServer


class Collector:
    """An OTLP/HTTP trace receiver: ``spans`` holds (resource attributes, span) pairs."""

    def __init__(self) -> None:
        self.spans: list[tuple[dict[str, str], Span]] = []
        self.server = StubServer()
        self.server.respond = self._receive
        self.endpoint = self.server.url

    def _receive(self, request: Recorded) -> Answer:
        export = ExportTraceServiceRequest.FromString(request.body)
        for resource_spans in export.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend((resource, s) for s in scope_spans.spans)
        answer = ExportTraceServiceResponse().SerializeToString()
        return Answer(200, answer, {"Content-Type": "application/x-protobuf"})
