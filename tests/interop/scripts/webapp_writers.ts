// forgea-cli interop driver: the web app's legacy writers, through its own code and Prisma 7 client.
//
// Run by tests/interop with tsx from apps/forgea-labs/scripts/ of a monorepo-shaped tmp layout
// (cwd apps/forgea-labs, whose tsconfig maps `@/...`), DATABASE_URL and GITHUB_WEBHOOK_SECRET set.
// Usage: tsx scripts/webapp_writers.ts TAG  — TAG keeps emails and URLs of one run apart.
// Prints one JSON document (last line of stdout) for the Python test to assert on.
import {
  AuditActorType,
  db,
  FailureClass,
  LabStatus,
  transitionLabSession,
} from "@forgea/schema";
import { POST } from "../app/api/webhooks/github/route";
import { attempt, deliveryRequest, emit, pushPayload, respond } from "./support";

const SEED_LAB_TITLE = "React Stale Closure"; // created by the web app's prisma/seed.ts

async function sessionState(id: string) {
  const row = await db.labSession.findUniqueOrThrow({ where: { id } });
  return { status: row.status, lastActivityAt: row.lastActivityAt.toISOString() };
}

async function main(tag: string) {
  const secret = process.env.GITHUB_WEBHOOK_SECRET;
  if (!secret) throw new Error("GITHUB_WEBHOOK_SECRET is not set");
  const seedLab = await db.lab.findFirst({ where: { title: SEED_LAB_TITLE } });
  if (!seedLab) throw new Error("the seed's lab is missing: run prisma/seed.ts first");

  // New users, a lab created now, and sessions inserted as the web app does (id, userId, labId,
  // userForkUrl, sometimes previewUrl: nothing forgea added).
  const ada = await db.user.create({ data: { email: `ada-${tag}@students.example` } });
  const bob = await db.user.create({
    data: { email: `bob-${tag}@students.example`, githubId: `gh-bob-${tag}` },
  });
  const newLab = await db.lab.create({
    data: {
      title: `Leaky Cache ${tag}`,
      epic: "Memory Bugs",
      failureClass: FailureClass.RESOURCE_LEAK,
      sourceGithubIssueUrl: `https://github.com/forgea-labs/leaky-cache-${tag}/issues/1`,
      repoVersion: "v1",
      baseRepoUrl: `https://github.com/forgea-labs/leaky-cache-${tag}`,
      constraints: { stack: "node", language: "typescript" },
    },
  });
  const pushed = await db.labSession.create({
    data: { userId: ada.id, labId: seedLab.id, userForkUrl: `https://github.com/ada-${tag}/forgea-lab-001` },
  });
  const verified = await db.labSession.create({
    data: {
      userId: bob.id,
      labId: newLab.id,
      userForkUrl: `https://github.com/bob-${tag}/leaky-cache`,
      previewUrl: `https://preview.example/bob-${tag}`,
    },
  });

  // A second active session for the same student and lab (the web app does not prevent it).
  const duplicate = await attempt(async () =>
    (
      await db.labSession.create({
        data: {
          userId: ada.id,
          labId: seedLab.id,
          userForkUrl: `https://github.com/ada-${tag}/forgea-lab-001-retry`,
        },
      })
    ).id,
  );
  // An insert that is not IN_PROGRESS: the lifecycle trigger refuses it.
  const insertStuck = await attempt(async () =>
    (
      await db.labSession.create({
        data: {
          userId: bob.id,
          labId: seedLab.id,
          status: LabStatus.STUCK,
          userForkUrl: `https://github.com/bob-${tag}/forgea-lab-001`,
        },
      })
    ).id,
  );

  // The student gets stuck; then a push arrives through the web app's webhook route.
  await transitionLabSession({
    sessionId: pushed.id,
    from: [LabStatus.IN_PROGRESS],
    to: LabStatus.STUCK,
    actor: { id: ada.id, type: AuditActorType.USER },
    reason: "student_stuck",
  });
  const beforePush = await sessionState(pushed.id);
  const commitSha = `${tag}`.padEnd(8, "0") + "a1b2c3d4e5f60718293a4b5c6d7e8f9012345";
  const webhook = {
    push: await respond(POST, deliveryRequest(pushPayload(pushed.userForkUrl, commitSha), { secret })),
    badSignature: await respond(
      POST,
      deliveryRequest(pushPayload(pushed.userForkUrl, commitSha), { secret: `${secret}-wrong` }),
    ),
    unknownRepo: await respond(
      POST,
      deliveryRequest(pushPayload(`https://github.com/nobody-${tag}/nothing`, commitSha), { secret }),
    ),
    notPush: await respond(POST, deliveryRequest({ zen: "Keep it logically awesome." }, { secret, event: "ping" })),
  };
  const afterPush = await sessionState(pushed.id);

  // Verification passes: the web app writes its VerificationLog row, then VERIFIED_PASS.
  const log = await db.verificationLog.create({
    data: {
      sessionId: verified.id,
      commitSha,
      prDiff: "diff --git a/src/cache.ts b/src/cache.ts\n-  cache.set(k, v)\n+  cache.set(k, v, { ttl })",
      ciOutput: "PASS  test/cache.test.ts (4 tests)",
    },
  });
  await transitionLabSession({
    sessionId: verified.id,
    from: [LabStatus.IN_PROGRESS, LabStatus.STUCK],
    to: LabStatus.VERIFIED_PASS,
    actor: { id: "verification-engine", type: AuditActorType.SYSTEM },
    reason: "verification_passed",
  });

  // VERIFIED_PASS is terminal: the web app's module refuses, and so does the database.
  const terminal = {
    viaTransition: await attempt(() =>
      transitionLabSession({
        sessionId: verified.id,
        to: LabStatus.IN_PROGRESS,
        actor: { id: bob.id, type: AuditActorType.USER },
        reason: "retry",
      }),
    ),
    viaUpdate: await attempt(async () =>
      (
        await db.labSession.updateMany({
          where: { id: verified.id, status: LabStatus.VERIFIED_PASS },
          data: { status: LabStatus.IN_PROGRESS },
        })
      ).count,
    ),
  };

  const sessions = await db.labSession.findMany({
    where: { id: { in: [pushed.id, verified.id] } },
    include: { user: true, lab: true, verificationLog: true },
    orderBy: { userForkUrl: "asc" },
  });

  emit({
    tag,
    users: { ada: ada.id, bob: bob.id },
    labs: { seed: seedLab.id, created: newLab.id },
    sessions: { pushed: pushed.id, verified: verified.id },
    forkUrls: { pushed: pushed.userForkUrl, verified: verified.userForkUrl },
    verificationLogId: log.id,
    commitSha,
    duplicate,
    insertStuck,
    beforePush,
    webhook,
    afterPush,
    terminal,
    found: sessions.map((s) => ({
      id: s.id,
      status: s.status,
      userForkUrl: s.userForkUrl,
      previewUrl: s.previewUrl,
      userEmail: s.user.email,
      labTitle: s.lab.title,
      verificationLog: s.verificationLog
        ? { id: s.verificationLog.id, commitSha: s.verificationLog.commitSha }
        : null,
    })),
  });
}

main(process.argv[2] ?? "run")
  .then(() => db.$disconnect())
  .catch(async (error) => {
    console.error(error);
    await db.$disconnect();
    process.exit(1);
  });
