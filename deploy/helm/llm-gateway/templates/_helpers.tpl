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

{{/*
Where the client keys are. The chart's own Secret: wherever values put them (apiKeysFile, and
secrets.values.LLM_GATEWAY_API_KEYS). An existing Secret cannot be read at render time, so
secrets.existingSecretApiKeys says which of its keys hold them: api-keys.json ("file"),
LLM_GATEWAY_API_KEYS ("env"), both, or none; with authentication off, none of them (the
gateway reads no keys then, and the Secret need not hold any). Each result is "true" or empty.
*/}}
{{- define "llm-gateway.authEnabled" -}}
{{- if eq (index .Values.env "LLM_GATEWAY_AUTH_ENABLED" | toString | lower) "true" }}true{{ end }}
{{- end }}

{{- define "llm-gateway.apiKeysFromFile" -}}
{{- if .Values.secrets.existingSecret }}
{{- if and (include "llm-gateway.authEnabled" .) (has .Values.secrets.existingSecretApiKeys (list "file" "both")) }}true{{ end }}
{{- else if .Values.secrets.apiKeysFile }}true{{ end }}
{{- end }}

{{- define "llm-gateway.apiKeysFromEnv" -}}
{{- if .Values.secrets.existingSecret }}
{{- if and (include "llm-gateway.authEnabled" .) (has .Values.secrets.existingSecretApiKeys (list "env" "both")) }}true{{ end }}
{{- else if hasKey .Values.secrets.values "LLM_GATEWAY_API_KEYS" }}true{{ end }}
{{- end }}

{{- define "llm-gateway.redisName" -}}
{{- printf "%s-redis" (include "llm-gateway.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "llm-gateway.redisSelectorLabels" -}}
app.kubernetes.io/name: {{ include "llm-gateway.name" . }}-redis
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "llm-gateway.redisLabels" -}}
{{ include "llm-gateway.redisSelectorLabels" . }}
app.kubernetes.io/component: redis
app.kubernetes.io/part-of: {{ include "llm-gateway.name" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/*
The gateway's plain environment, as a dict: the chart's settings first, then .Values.env on top,
so a name set in env wins and appears once (range over a dict is sorted by name).
*/}}
{{- define "llm-gateway.plainEnv" -}}
{{- $env := dict
  "LLM_GATEWAY_WORKERS" (toString .Values.workers)
  "LLM_GATEWAY_PROVIDERS_CONFIG" "/app/config/providers.json"
  "LLM_GATEWAY_TOOLS_CONFIG" "/app/config/tools.json"
  "LLM_GATEWAY_PRICING_CONFIG" "/app/config/pricing.json"
  "LLM_GATEWAY_MODELS_CONFIG" "/app/config/models.json"
  "PROMETHEUS_MULTIPROC_DIR" "/run/prometheus" }}
{{- if include "llm-gateway.apiKeysFromFile" . }}
{{- $_ := set $env "LLM_GATEWAY_API_KEYS_FILE" "/etc/llm-gateway/keys/api-keys.json" }}
{{- end }}
{{- range $name, $value := .Values.env }}
{{- $_ := set $env $name (toString $value) }}
{{- end }}
{{- toJson $env }}
{{- end }}

{{/*
Variables read from the gateway's Secret (optional ones may be absent), except those .Values.env
sets in plain: providerKeys, every name in secrets.values, and LLM_GATEWAY_API_KEYS when the
keys are there. The Redis URL is listed apart (it is required, or composed for the in-chart Redis).
*/}}
{{- define "llm-gateway.secretEnv" -}}
{{- $names := list }}
{{- range .Values.secrets.providerKeys }}{{ $names = append $names . }}{{ end }}
{{- if not .Values.secrets.existingSecret }}
{{- range $name, $_ := .Values.secrets.values }}{{ $names = append $names $name }}{{ end }}
{{- end }}
{{- if include "llm-gateway.apiKeysFromEnv" . }}{{ $names = append $names "LLM_GATEWAY_API_KEYS" }}{{ end }}
{{- $kept := list }}
{{- range (uniq $names) }}
{{- if and (not (hasKey $.Values.env .)) (ne . "LLM_GATEWAY_REDIS_URL") }}{{ $kept = append $kept . }}{{ end }}
{{- end }}
{{- toJson $kept }}
{{- end }}

{{/* Refuse values that would deploy a broken gateway, at install time rather than at 3 a.m. */}}
{{- define "llm-gateway.validate" -}}
{{- if and .Values.redis.url .Values.redis.enabled }}
{{- fail "redis.url and redis.enabled are exclusive: an external Redis, or the chart's own" }}
{{- end }}
{{- if and .Values.redis.enabled .Values.redis.auth.enabled (not .Values.secrets.existingSecret) (not .Values.redis.auth.password) }}
{{- fail "redis.enabled with redis.auth.enabled needs redis.auth.password (URL-safe, e.g. openssl rand -hex 24) or secrets.existingSecret holding REDIS_PASSWORD" }}
{{- end }}
{{- if not .Values.secrets.existingSecret }}
{{- if not (or .Values.redis.url .Values.redis.enabled (hasKey .Values.env "LLM_GATEWAY_REDIS_URL")) }}
{{- fail "redis.url is required (or redis.enabled for the chart's own Redis, or secrets.existingSecret holding LLM_GATEWAY_REDIS_URL): replicas share sessions, rate limits, cache and usage through Redis" }}
{{- end }}
{{- $auth := index .Values.env "LLM_GATEWAY_AUTH_ENABLED" | toString | lower }}
{{- if and (eq $auth "true") (not .Values.secrets.apiKeysFile) (not (hasKey .Values.secrets.values "LLM_GATEWAY_API_KEYS")) }}
{{- fail "authentication is on but no client keys are given: set secrets.apiKeysFile (--set-file) or secrets.values.LLM_GATEWAY_API_KEYS, or use secrets.existingSecret" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The pods' ServiceAccount: the chart's own, a named existing one, or none (the default). */}}
{{- define "llm-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "llm-gateway.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}
