{{/* The chart's name, or nameOverride. */}}
{{- define "llm-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Object names: the release name, with the chart name unless the release already has it. */}}
{{- define "llm-gateway.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "llm-gateway.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "llm-gateway.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "llm-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "llm-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "llm-gateway.labels" -}}
{{ include "llm-gateway.selectorLabels" . }}
app.kubernetes.io/component: gateway
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{- define "llm-gateway.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "llm-gateway.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "llm-gateway.fullname" .)) }}
{{- end }}

{{- define "llm-gateway.configMapName" -}}
{{- .Values.config.existingConfigMap | default (printf "%s-config" (include "llm-gateway.fullname" .)) }}
{{- end }}

{{/* Whether the client keys file is mounted: the chart's own, or maybe in an existing Secret. */}}
{{- define "llm-gateway.mountApiKeysFile" -}}
{{- if or .Values.secrets.existingSecret .Values.secrets.apiKeysFile }}true{{ end }}
{{- end }}

{{/* Refuse values that would deploy a broken gateway, at install time rather than at 3 a.m. */}}
{{- define "llm-gateway.validate" -}}
{{- if not .Values.secrets.existingSecret }}
{{- if not .Values.redis.url }}
{{- fail "redis.url is required (or secrets.existingSecret holding LLM_GATEWAY_REDIS_URL): replicas share sessions, rate limits, cache and usage through Redis" }}
{{- end }}
{{- $auth := index .Values.env "LLM_GATEWAY_AUTH_ENABLED" | toString | lower }}
{{- if and (eq $auth "true") (not .Values.secrets.apiKeysFile) (not (hasKey .Values.secrets.values "LLM_GATEWAY_API_KEYS")) }}
{{- fail "authentication is on but no client keys are given: set secrets.apiKeysFile (--set-file) or secrets.values.LLM_GATEWAY_API_KEYS, or use secrets.existingSecret" }}
{{- end }}
{{- end }}
{{- end }}
