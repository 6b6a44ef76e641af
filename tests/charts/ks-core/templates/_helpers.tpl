{{/* The cluster's role: the values, else host. */}}
{{- define "multicluster.role" -}}
{{- .Values.multicluster.role | default "host" -}}
{{- end -}}

{{/* An image: registry/repository:tag, the tag defaulting to global.tag. */}}
{{- define "ks.image" -}}
{{- $registry := .registry | default .global.imageRegistry -}}
{{- $tag := .image.tag | default .global.tag -}}
{{- if $registry -}}
{{- printf "%s/%s:%s" $registry .image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The ks-upgrade image. */}}
{{- define "upgrade.image" -}}
{{- include "ks.image" (dict "registry" .Values.upgrade.image.registry "image" .Values.upgrade.image "global" .Values.global) -}}
{{- end -}}

{{- define "ks.labels" -}}
app.kubernetes.io/part-of: kubesphere
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The ks-upgrade container's volumes: its config and the PVC it keeps data on. */}}
{{- define "upgrade.volumes" -}}
- name: config
  configMap:
    name: {{ .config }}
- name: data
  persistentVolumeClaim:
    claimName: {{ .Values.upgrade.persistenceVolume.name }}
{{- end -}}

{{/* A ks-upgrade Job's pod spec running `ks-upgrade <phase>`. */}}
{{- define "upgrade.podSpec" -}}
serviceAccountName: kubesphere
restartPolicy: Never
containers:
- name: ks-upgrade
  image: {{ include "upgrade.image" .root }}
  imagePullPolicy: {{ .root.Values.upgrade.image.pullPolicy }}
  command:
  - ks-upgrade
  - {{ .phase }}
  - --logtostderr=true
  - --config=/etc/kubesphere/config.yaml
  - --config=/etc/kubesphere/config-patch.yaml
  volumeMounts:
  - name: config
    mountPath: /etc/kubesphere/config-patch.yaml
    subPath: config-patch.yaml
  - name: data
    mountPath: {{ dig "storage" "local" "path" "/tmp/ks-upgrade" .root.Values.upgrade.config }}
volumes:
{{ include "upgrade.volumes" (dict "Values" .root.Values "config" .config) }}
{{- end -}}
