// Shim for the web app's `@/lib/db` (apps/forgea-labs/lib/db.ts, not in the corpus): the one Prisma
// client of `@forgea/schema`. Written for forgea-cli's interop tests.
export { db } from "@forgea/schema";
