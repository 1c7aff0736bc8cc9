// Prisma 7 config for `prisma generate` in forgea-cli's interop tests. generate needs no database;
// the URL is only read by commands that connect (the web app's runtime uses @prisma/adapter-pg).
import { defineConfig } from "prisma/config";

export default defineConfig({
  schema: process.env.FORGEA_INTEROP_SCHEMA ?? "prisma/schema.prisma",
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://generate-only@localhost/unused" },
});
