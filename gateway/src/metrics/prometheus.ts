// The exposition format and registry are shared with the cloud bridge: they live in the device SDK.
export * from '@fieldmesh/device-sdk/metrics/prometheus';
