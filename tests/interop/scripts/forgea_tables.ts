// forgea-cli interop driver: a Prisma 7 client generated from the web app's schema.prisma merged with
// `forgea schema prisma`, reading and writing forgea's tables next to the web app's.
//
// Env: DATABASE_URL, FORGEA_CLIENT (absolute path of the generated client), TAG.
// Prints one JSON document (last line of stdout).
import { PrismaPg } from "@prisma/adapter-pg";
import { attempt, emit } from "./support";

// The generated client lives where the test generated it (a custom `output`), so it is loaded by path.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { PrismaClient } = require(process.env.FORGEA_CLIENT as string);

const REPO_ID = 700000123n;

async function main(tag: string) {
  const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: process.env.DATABASE_URL }) });
  try {
    // Reads across the web app's models and forgea's, through the merged relations.
    const versions = await prisma.labVersion.findMany({
      include: { lab: true, _count: { select: { labSessions: true } } },
      orderBy: [{ createdAt: "asc" }, { version: "asc" }],
    });
    const sessions = await prisma.labSession.findMany({
      include: {
        labVersion: true,
        verificationAttempts: { include: { legacyVerificationLog: true } },
        gitHubRepoMapping: true,
        verificationLog: { include: { verificationAttempt: true } },
      },
      orderBy: { startedAt: "asc" },
    });
    const keys = await prisma.idempotencyKey.count();

    // Writes: a session as the web app inserts it (no labVersionId: the database fills it), its
    // repository mapping, attempts, and a new lab version.
    const lab = await prisma.lab.findFirstOrThrow({ where: { title: "React Stale Closure" } });
    const user = await prisma.user.create({ data: { email: `cleo-${tag}@students.example` } });
    const session = await prisma.labSession.create({
      data: { userId: user.id, labId: lab.id, userForkUrl: `https://github.com/cleo-${tag}/forgea-lab-001` },
    });
    const mapping = await prisma.gitHubRepoMapping.create({
      data: {
        labSessionId: session.id,
        providerRepoId: REPO_ID,
        owner: `cleo-${tag}`,
        name: "forgea-lab-001",
        canonicalUrl: `https://github.com/cleo-${tag}/forgea-lab-001`,
        htmlUrl: session.userForkUrl,
        defaultBranch: "main",
        resolution: "RESOLVED",
        source: "MANUAL",
        resolvedAt: new Date(),
      },
    });
    const failed = await prisma.verificationAttempt.create({
      data: {
        labSessionId: session.id,
        attemptNumber: 1,
        commitSha: "1111111111111111111111111111111111111111",
        result: "FAIL",
        ciOutput: "FAIL test/closure.test.ts",
        deliveryId: `delivery-${tag}-1`,
      },
    });
    const passWithoutEvidence = await attempt(async () =>
      (await prisma.labSession.updateMany({ where: { id: session.id }, data: { status: "VERIFIED_PASS" } })).count,
    );
    const duplicateDelivery = await attempt(async () =>
      (
        await prisma.verificationAttempt.create({
          data: {
            labSessionId: session.id,
            attemptNumber: 2,
            commitSha: "1111111111111111111111111111111111111111",
            result: "FAIL",
            ciOutput: "redelivered",
            deliveryId: `delivery-${tag}-1`,
          },
        })
      ).id,
    );
    const passed = await prisma.verificationAttempt.create({
      data: {
        labSessionId: session.id,
        attemptNumber: 2,
        commitSha: "2222222222222222222222222222222222222222",
        result: "PASS",
        ciOutput: "PASS test/closure.test.ts",
        prDiff: "diff --git a/src/App.tsx b/src/App.tsx",
        deliveryId: `delivery-${tag}-2`,
      },
    });
    const toPass = await prisma.labSession.updateMany({
      where: { id: session.id, status: "IN_PROGRESS" },
      data: { status: "VERIFIED_PASS" },
    });
    const attemptUpdate = await attempt(async () =>
      (await prisma.verificationAttempt.update({ where: { id: failed.id }, data: { ciOutput: "rewritten" } })).id,
    );

    const v2 = await prisma.labVersion.create({
      data: { labId: lab.id, version: `v2-${tag}`, templateRepoUrl: "https://github.com/aryasoni1/forgea-lab-001-v2" },
    });
    const fillOnce = await attempt(async () =>
      (await prisma.labVersion.update({ where: { id: v2.id }, data: { commitSha: "abc1234", templateRepoId: 42n } }))
        .commitSha,
    );
    const refill = await attempt(async () =>
      (await prisma.labVersion.update({ where: { id: v2.id }, data: { commitSha: "def5678" } })).commitSha,
    );

    // The webhook lookup of the runbook, rule 1, through the client.
    const byRepoId = await prisma.gitHubRepoMapping.findUnique({
      where: { providerRepoId: REPO_ID },
      include: { labSession: { include: { labVersion: true, user: true } } },
    });
    const after = await prisma.labSession.findUniqueOrThrow({
      where: { id: session.id },
      include: { verificationAttempts: { orderBy: { attemptNumber: "asc" } } },
    });

    emit({
      versions: versions.map((v) => ({
        id: v.id,
        labTitle: v.lab.title,
        version: v.version,
        templateRepoUrl: v.templateRepoUrl,
        sessions: v._count.labSessions,
      })),
      sessions: sessions.map((s) => ({
        id: s.id,
        status: s.status,
        labVersionId: s.labVersionId,
        labVersion: s.labVersion.version,
        completedAt: s.completedAt,
        attempts: s.verificationAttempts.map((a) => ({
          attemptNumber: a.attemptNumber,
          result: a.result,
          legacyVerificationLogId: a.legacyVerificationLogId,
          legacyCommitSha: a.legacyVerificationLog?.commitSha ?? null,
        })),
        mapping: s.gitHubRepoMapping
          ? { canonicalUrl: s.gitHubRepoMapping.canonicalUrl, resolution: s.gitHubRepoMapping.resolution }
          : null,
        logMirroredAs: s.verificationLog?.verificationAttempt?.attemptNumber ?? null,
      })),
      idempotencyKeys: keys,
      created: {
        userId: user.id,
        sessionId: session.id,
        labVersionId: session.labVersionId,
        mappingId: mapping.id,
        providerRepoId: mapping.providerRepoId,
        attempts: [failed.id, passed.id],
        v2: v2.id,
      },
      passWithoutEvidence,
      duplicateDelivery,
      toPass: toPass.count,
      attemptUpdate,
      fillOnce,
      refill,
      byRepoId: byRepoId
        ? {
            sessionId: byRepoId.labSession.id,
            email: byRepoId.labSession.user.email,
            version: byRepoId.labSession.labVersion.version,
          }
        : null,
      after: {
        status: after.status,
        completedAt: after.completedAt,
        attempts: after.verificationAttempts.map((a) => [a.attemptNumber, a.result]),
      },
    });
  } finally {
    await prisma.$disconnect();
  }
}

main(process.env.TAG ?? "run").catch((error) => {
  console.error(error);
  process.exit(1);
});
