{{/* The chart name, or nameOverride. */}}
{{- define "schemaops.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The name of every object of the release: fullnameOverride, or <release>-<chart> unless the release name holds the chart name. */}}
{{- define "schemaops.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "schemaops.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "schemaops.selectorLabels" -}}
app.kubernetes.io/name: {{ include "schemaops.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "schemaops.labels" -}}
helm.sh/chart: {{ include "schemaops.chart" . }}
{{ include "schemaops.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: schemaops
{{- end }}

{{- define "schemaops.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "schemaops.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "schemaops.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* "true" when the operator elects a leader: asked for, or more than one replica. */}}
{{- define "schemaops.leaderElection" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicaCount) 1) }}true{{ end }}
{{- end }}

{{- define "schemaops.namespaced" -}}
{{- if eq .Values.rbac.scope "namespace" }}true{{ end }}
{{- end }}

{{/* The namespaces the operator watches with rbac.scope=namespace, as a comma-separated list. */}}
{{- define "schemaops.watchNamespaces" -}}
{{- default (list .Release.Namespace) .Values.watchNamespaces | join "," }}
{{- end }}

{{- define "schemaops.leaseName" -}}
{{- printf "%s-leader" (include "schemaops.fullname" . | trunc 56 | trimSuffix "-") }}
{{- end }}

{{/*
The API calls the operator makes, and nothing else (test/chart/chart.test.ts checks them against src/).
The finalizers rule lets the backup Job carry an owner reference with blockOwnerDeletion.
*/}}
{{- define "schemaops.rules" -}}
- apiGroups: [schemaops.dev]
  resources: [schemamigrations]
  verbs: [get, list, watch, patch]
- apiGroups: [schemaops.dev]
  resources: [schemamigrations/status]
  verbs: [patch]
- apiGroups: [schemaops.dev]
  resources: [schemamigrations/finalizers]
  verbs: [update]
- apiGroups: ['']
  resources: [secrets]
  verbs: [get]
- apiGroups: ['']
  resources: [configmaps]
  verbs: [get, list, create, update]
- apiGroups: ['']
  resources: [persistentvolumeclaims]
  verbs: [get]
- apiGroups: ['']
  resources: [pods]
  verbs: [list, watch]
- apiGroups: [apps]
  resources: [deployments, statefulsets]
  verbs: [get, list, watch, patch]
- apiGroups: [apps]
  resources: [deployments/scale, statefulsets/scale]
  verbs: [patch]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create]
{{- end }}

{{/* What namespace viewers may do with SchemaMigrations (config/rbac/view_role.yaml grants the same). */}}
{{- define "schemaops.viewRules" -}}
- apiGroups: [schemaops.dev]
  resources: [schemamigrations, schemamigrations/status]
  verbs: [get, list, watch]
{{- end }}

{{/*
What namespace editors may do (config/rbac/edit_role.yaml grants the same): change the spec,
approve or retry with an annotation, delete. Not the status subresource, which is the operator's.
*/}}
{{- define "schemaops.editRules" -}}
- apiGroups: [schemaops.dev]
  resources: [schemamigrations]
  verbs: [create, update, patch, delete, deletecollection]
{{- end }}
