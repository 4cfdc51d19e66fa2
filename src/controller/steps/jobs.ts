import type { V1Job, V1JobCondition } from '@kubernetes/client-node';
import type { KubeClient, ObjectRef } from '../../kube/types.js';

/** The Job's Complete or Failed condition, when it is True. */
export function jobCondition(job: V1Job, type: 'Complete' | 'Failed'): V1JobCondition | undefined {
  return job.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

/**
 * Whether one of the operator's Jobs (one pod to completion) has done its work, with what its pod said: the Job
 * is Complete, or its pod exited 0. The Job controller batches pod events and marks the Job Complete up to a
 * second after its pod ended; the work ended with the pod, and a workload that is down should not wait for the
 * mark. A Failed Job is the caller's to look at first.
 */
export async function jobSucceeded(
  kube: KubeClient,
  ref: ObjectRef,
  job: V1Job,
): Promise<{ message: string | undefined } | undefined> {
  const end = await kube.getJobPodEnd(ref);
  return jobCondition(job, 'Complete') || end?.exitCode === 0 ? { message: end?.message } : undefined;
}
