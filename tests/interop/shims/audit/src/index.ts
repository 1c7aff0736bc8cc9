// Shim for `@forgea/audit` (not in the corpus), written for forgea-cli's interop tests: one AuditLog
// row per call, actorId = actor.id, the actor's type and the resource in metadata, the way the web
// app's audit trail records them.
import { db } from "@forgea/schema";

type Actor = { id: string; type: string };
type Resource = { type: string; id: string };

export const AuditService = {
  async log(
    actor: Actor,
    action: string,
    resource: Resource,
    metadata: Record<string, unknown> = {},
  ): Promise<void> {
    await db.auditLog.create({
      data: {
        actorId: actor.id,
        action,
        metadata: { ...metadata, actorType: actor.type, resource },
      },
    });
  },
};
