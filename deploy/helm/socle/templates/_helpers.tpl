{{/* Name prefix of every object: the release name, with "-socle" unless it says socle. */}}
{{- define "socle.fullname" -}}
{{- if contains "socle" .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-socle" .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Args: dict root name. */}}
{{- define "socle.name" -}}
{{- printf "%s-%s" (include "socle.fullname" .root) .name -}}
{{- end -}}

{{- define "socle.commonLabels" -}}
app.kubernetes.io/part-of: socle
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ include "socle.tag" . | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Args: dict root name [component]. Labels selecting one service's serving pods. */}}
{{- define "socle.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component | default "server" }}
{{- end -}}

{{/* Args: dict root name [component]. */}}
{{- define "socle.labels" -}}
{{ include "socle.commonLabels" .root }}
{{ include "socle.selectorLabels" . }}
{{- end -}}

{{- define "socle.tag" -}}
{{- .Values.image.tag | default .Chart.AppVersion -}}
{{- end -}}

{{/* Args: dict root name svc. */}}
{{- define "socle.image" -}}
{{- $ref := printf "%s/%s:%s" .root.Values.image.registry .svc.image.repository (include "socle.tag" .root) -}}
{{- if .svc.image.digest -}}
{{- $ref = printf "%s@%s" $ref .svc.image.digest -}}
{{- end -}}
{{- $ref -}}
{{- end -}}

{{/* Args: dict root name svc. */}}
{{- define "socle.secretName" -}}
{{- .svc.existingSecret | default (include "socle.name" .) -}}
{{- end -}}

{{- define "socle.issuer" -}}
{{- .Values.issuer | default (printf "https://%s" .Values.services.identity.ingress.host) -}}
{{- end -}}

{{/* Args: dict root name svc. The environment of a service's pods and of its migration Job. */}}
{{- define "socle.env" -}}
{{- $root := .root -}}
{{- $secret := include "socle.secretName" . -}}
- name: POD_NAME
  valueFrom:
    fieldRef: {fieldPath: metadata.name}
- name: SOCLE_ENVIRONMENT
  value: {{ $root.Values.environment | quote }}
- name: SOCLE_ISSUER
  value: {{ include "socle.issuer" $root | quote }}
{{- if ne .name "identity" }}
# Keys are fetched from identity's Service inside the cluster, not through the ingress.
- name: SOCLE_JWKS_URL
  value: {{ printf "http://%s/jwks" (include "socle.name" (dict "root" $root "name" "identity")) | quote }}
{{- end }}
- name: SOCLE_NATS_URL
  value: {{ $root.Values.natsUrl | quote }}
- name: SOCLE_STREAM_NAME
  value: {{ $root.Values.streamName | quote }}
- name: SOCLE_STREAM_MAX_AGE_SECONDS
  value: {{ $root.Values.stream.maxAgeSeconds | int64 | quote }}
- name: SOCLE_STREAM_MAX_BYTES
  value: {{ $root.Values.stream.maxBytes | int64 | quote }}
- name: SOCLE_STREAM_REPLICAS
  value: {{ $root.Values.stream.replicas | int64 | quote }}
- name: SOCLE_STREAM_DUPLICATE_WINDOW_SECONDS
  value: {{ $root.Values.stream.duplicateWindowSeconds | int64 | quote }}
- name: SOCLE_DEAD_LETTER_MAX_AGE_SECONDS
  value: {{ $root.Values.stream.deadLetterMaxAgeSeconds | int64 | quote }}
- name: SOCLE_LOG_LEVEL
  value: {{ $root.Values.logLevel | quote }}
{{- if and (eq .name "payment") (not (hasKey .svc.env "SOCLE_PAYMENT_PUBLIC_URL")) }}
- name: SOCLE_PAYMENT_PUBLIC_URL
  value: {{ printf "https://%s" .svc.ingress.host | quote }}
{{- end }}
- name: OTEL_SERVICE_NAME
  value: {{ printf "socle-%s" .name | quote }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "service.namespace=socle,service.version=%s,service.instance.id=$(POD_NAME)%s" (include "socle.tag" $root) (ternary (printf ",%s" $root.Values.otel.resourceAttributes) "" (ne $root.Values.otel.resourceAttributes "")) | quote }}
{{- with $root.Values.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- range $key, $value := .svc.env }}
- name: {{ $key }}
  value: {{ $value | quote }}
{{- end }}
{{- range .svc.secretKeys.required }}
- name: {{ . }}
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ . }}}
{{- end }}
{{- range .svc.secretKeys.optional }}
- name: {{ . }}
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ . }}, optional: true}
{{- end }}
{{- end -}}

{{- define "socle.podSpecCommon" -}}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.image.pullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
