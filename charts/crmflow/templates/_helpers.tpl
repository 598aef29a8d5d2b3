{{/* Chart name, overridable. */}}
{{- define "crmflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: "<release>-<chart>" unless the release already contains the chart name. */}}
{{- define "crmflow.fullname" -}}
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

{{/* Chart label value. */}}
{{- define "crmflow.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "crmflow.labels" -}}
helm.sh/chart: {{ include "crmflow.chart" . }}
{{ include "crmflow.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: crmflow
{{- end }}

{{/* Labels that select the manager pods. */}}
{{- define "crmflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "crmflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: manager
{{- end }}

{{/* The manager's ServiceAccount name. */}}
{{- define "crmflow.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "crmflow.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The manager image reference: digest wins over tag; tag defaults to appVersion. */}}
{{- define "crmflow.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Names of the webhook Service, its certificate Secret and the cert-manager objects. */}}
{{- define "crmflow.webhookServiceName" -}}
{{- printf "%s-webhook" (include "crmflow.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- define "crmflow.webhookCertSecret" -}}
{{- printf "%s-webhook-cert" (include "crmflow.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- define "crmflow.certificateName" -}}
{{- printf "%s-serving-cert" (include "crmflow.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- define "crmflow.issuerName" -}}
{{- printf "%s-selfsigned" (include "crmflow.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- define "crmflow.receiverServiceName" -}}
{{- printf "%s-receiver" (include "crmflow.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- define "crmflow.metricsServiceName" -}}
{{- printf "%s-metrics" (include "crmflow.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The webhook's serving certificate when Helm generates it: reused from the
existing Secret on upgrade (so the CA bundle stays valid), generated otherwise.
Returns a YAML dict with caCert, tlsCert and tlsKey, base64-encoded.
*/}}
{{- define "crmflow.webhookCerts" -}}
{{- $secretName := include "crmflow.webhookCertSecret" . }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace $secretName }}
{{- if and $existing $existing.data (index $existing.data "ca.crt") }}
caCert: {{ index $existing.data "ca.crt" }}
tlsCert: {{ index $existing.data "tls.crt" }}
tlsKey: {{ index $existing.data "tls.key" }}
{{- else }}
{{- $svc := include "crmflow.webhookServiceName" . }}
{{- $dns := list $svc (printf "%s.%s" $svc .Release.Namespace) (printf "%s.%s.svc" $svc .Release.Namespace) (printf "%s.%s.svc.cluster.local" $svc .Release.Namespace) }}
{{- $days := int .Values.webhook.certValidityDays }}
{{- $ca := genCA (printf "%s-webhook-ca" (include "crmflow.fullname" .)) $days }}
{{- $cert := genSignedCert (printf "%s.%s.svc" $svc .Release.Namespace) nil $dns $days $ca }}
caCert: {{ $ca.Cert | b64enc }}
tlsCert: {{ $cert.Cert | b64enc }}
tlsKey: {{ $cert.Key | b64enc }}
{{- end }}
{{- end }}

{{/*
Where the run history lives, decided once for the Deployment, the chart's
PersistentVolumeClaim and NOTES:
  postgres   history.dsnSecret: PostgreSQL; no volume of the chart holds it.
  manual     --history-dsn in manager.extraArgs: set by hand; the chart
             mounts history.existingClaim if given and creates no claim.
  claim      SQLite on history.existingClaim.
  pvc        SQLite on the claim the chart creates (history.persistence).
  emptyDir   SQLite on an emptyDir: lost with the pod, and with it the
             deduplication of events whose runs have left etcd.
*/}}
{{- define "crmflow.historyStore" -}}
{{- $byHand := false }}
{{- range .Values.manager.extraArgs }}
{{- if hasPrefix "--history-dsn" (toString .) }}{{ $byHand = true }}{{ end }}
{{- end }}
{{- if .Values.history.dsnSecret }}postgres
{{- else if $byHand }}manual
{{- else if .Values.history.existingClaim }}claim
{{- else if .Values.history.persistence.enabled }}pvc
{{- else }}emptyDir
{{- end }}
{{- end }}

{{/* The PersistentVolumeClaim the chart creates for the SQLite history. */}}
{{- define "crmflow.historyPVCName" -}}
{{- printf "%s-history" (include "crmflow.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The claim the manager pod mounts at /var/lib/crmflow, or nothing (an emptyDir).
With PostgreSQL no claim is mounted: an unused ReadWriteOnce volume would only
hold up a rolling update.
*/}}
{{- define "crmflow.historyClaim" -}}
{{- $store := include "crmflow.historyStore" . }}
{{- if or (eq $store "claim") (and (eq $store "manual") .Values.history.existingClaim) }}
{{- .Values.history.existingClaim }}
{{- else if eq $store "pvc" }}
{{- include "crmflow.historyPVCName" . }}
{{- end }}
{{- end }}
