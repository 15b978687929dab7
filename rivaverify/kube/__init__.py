"""Riva on Kubernetes: manifests read and checked (`rivaverify kube check`), and a running deployment's replicas
found through the Kubernetes API (`RIVA__TARGET=kubernetes`). Facts and sources: docs/riva-behaviour.md,
section "Kubernetes (riva-api chart, NIM Operator)"."""
