{{/*
  dataProcessor.name:
    The chart name, or nameOverride.
*/}}
{{- define "dataProcessor.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
  dataProcessor.fullname:
    The name of the release's objects: fullnameOverride, else <release>-<chart> (just <release> when it already
    contains the chart name), cut to the 63 characters Kubernetes allows.
*/}}
{{- define "dataProcessor.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := include "dataProcessor.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
  dataProcessor.selectorLabels:
    Labels that select the worker's pods (immutable once the Deployment exists).
*/}}
{{- define "dataProcessor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dataProcessor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
  dataProcessor.labels:
    Standard labels of every object, plus commonLabels.
*/}}
{{- define "dataProcessor.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "dataProcessor.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: data-processor
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
  dataProcessor.serviceAccountName:
    The worker's ServiceAccount: the created one, or an existing one named by serviceAccount.name.
*/}}
{{- define "dataProcessor.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dataProcessor.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "An existing ServiceAccount name is required when serviceAccount.create is false (serviceAccount.name)" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
  dataProcessor.jobsNamespace:
    Where the flow-run Jobs run (and the worker's Role lives): jobs.namespace, else the release namespace.
*/}}
{{- define "dataProcessor.jobsNamespace" -}}
{{- default .Release.Namespace .Values.jobs.namespace }}
{{- end }}

{{/*
  dataProcessor.image:
    repository:tag of the data-processor image; the tag defaults to the chart's appVersion.
*/}}
{{- define "dataProcessor.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
  dataProcessor.apiUrl:
    The Prefect API URL; mandatory.
*/}}
{{- define "dataProcessor.apiUrl" -}}
{{- required "The Prefect API URL is required (prefect.apiUrl)" .Values.prefect.apiUrl }}
{{- end }}

{{/*
  dataProcessor.workPool:
    The work pool name; mandatory.
*/}}
{{- define "dataProcessor.workPool" -}}
{{- required "A work pool name is required (workPool.name)" .Values.workPool.name }}
{{- end }}

{{/*
  dataProcessor.objectStorage:
    True (non-empty) when the flow-run pods read the files from object storage instead of the data volume.
*/}}
{{- define "dataProcessor.objectStorage" -}}
{{- if eq .Values.data.source "objectStorage" }}true{{ end }}
{{- end }}

{{/*
  dataProcessor.jobsServiceAccountName:
    The flow-run pods' ServiceAccount in object-storage mode (workload identity): the created one, an existing one
    named by objectStorage.serviceAccount.name, or empty for the namespace's default.
*/}}
{{- define "dataProcessor.jobsServiceAccountName" -}}
{{- if .Values.objectStorage.serviceAccount.create }}
{{- default (printf "%s-flow-runs" (include "dataProcessor.fullname" .)) .Values.objectStorage.serviceAccount.name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- .Values.objectStorage.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
  dataProcessor.baseJobTemplateFile:
    The base job template the chart ships for data.source: files/base-job-template.json (the data volume) or
    files/base-job-template-object-storage.json (no volume; copies of the files of the same names in k8s/).
*/}}
{{- define "dataProcessor.baseJobTemplateFile" -}}
{{- if include "dataProcessor.objectStorage" . }}files/base-job-template-object-storage.json{{ else }}files/base-job-template.json{{ end }}
{{- end }}

{{/*
  dataProcessor.baseJobTemplate:
    The base job template of data.source with the defaults of its variables taken from the values, so the work
    pool's Jobs follow the chart. Only `default`s change; the Job manifest does not.
*/}}
{{- define "dataProcessor.baseJobTemplate" -}}
{{- $file := include "dataProcessor.baseJobTemplateFile" . }}
{{- $template := .Files.Get $file | fromJson }}
{{- if not (and (hasKey $template "job_configuration") (hasKey $template "variables")) }}
{{- fail (printf "%s is missing or is not a base job template" $file) }}
{{- end }}
{{- $variables := $template.variables.properties }}
{{- $defaults := dict
      "namespace" (include "dataProcessor.jobsNamespace" .)
      "image" (include "dataProcessor.image" .)
      "image_pull_policy" .Values.image.pullPolicy
      "cpu_request" (toString .Values.jobs.resources.requests.cpu)
      "memory_request" (toString .Values.jobs.resources.requests.memory)
      "cpu_limit" (toString .Values.jobs.resources.limits.cpu)
      "memory_limit" (toString .Values.jobs.resources.limits.memory)
      "active_deadline_seconds" (int .Values.jobs.activeDeadlineSeconds)
      "backoff_limit" (int .Values.jobs.backoffLimit)
      "finished_job_ttl" (int .Values.jobs.finishedJobTtl)
      "db_secret_name" .Values.database.existingSecret }}
{{- if include "dataProcessor.objectStorage" . }}
{{- $_ := set $defaults "storage_secret_name" .Values.objectStorage.existingSecret }}
{{- $_ := set $defaults "automount_service_account_token" .Values.objectStorage.serviceAccount.automountToken }}
{{- with include "dataProcessor.jobsServiceAccountName" . }}
{{- $_ := set $defaults "service_account_name" . }}
{{- end }}
{{- else }}
{{- $_ := set $defaults "data_pvc_claim_name" .Values.persistence.claimName }}
{{- $_ := set $defaults "data_mount_path" .Values.persistence.mountPath }}
{{- end }}
{{- range $name, $default := $defaults }}
{{- if not (hasKey $variables $name) }}
{{- fail (printf "%s has no variable %q" $file $name) }}
{{- end }}
{{- $_ := set (index $variables $name) "default" $default }}
{{- end }}
{{- toPrettyJson $template }}
{{- end }}

{{/*
  dataProcessor.prefectEnv:
    The environment every container that talks to Prefect needs: API URL, credentials from Secrets (never values),
    a writable HOME/PREFECT_HOME under /tmp, no interactive prompts.
*/}}
{{- define "dataProcessor.prefectEnv" -}}
- name: HOME
  value: /tmp
- name: PREFECT_HOME
  value: /tmp/.prefect
- name: PREFECT_CLI_PROMPT
  value: "false"
- name: PREFECT_API_URL
  value: {{ include "dataProcessor.apiUrl" . | quote }}
{{- with .Values.prefect.apiKeySecret.name }}
- name: PREFECT_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.prefect.apiKeySecret.key }}
{{- end }}
{{- with .Values.prefect.authStringSecret.name }}
- name: PREFECT_API_AUTH_STRING
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.prefect.authStringSecret.key }}
{{- end }}
{{- end }}

{{/*
  dataProcessor.dnsEgress:
    NetworkPolicy egress rule: DNS over UDP and TCP.
*/}}
{{- define "dataProcessor.dnsEgress" -}}
- ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
{{- end }}

{{/*
  dataProcessor.prefectApiEgress:
    NetworkPolicy egress rule: the Prefect API port, to networkPolicy.prefectApi.to (any destination when empty).
*/}}
{{- define "dataProcessor.prefectApiEgress" -}}
- ports:
    - protocol: TCP
      port: {{ .Values.networkPolicy.prefectApi.port }}
  {{- with .Values.networkPolicy.prefectApi.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
