import fs from "node:fs";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { AppError } from "../lib/errors.ts";

export type CommandContext = { args: string[]; json: boolean };

export type Command = {
  /** e.g. "user create" */
  name: string;
  summary: string;
  usage: string;
  run(ctx: CommandContext): Promise<unknown>;
  /** does the command open the database (and so need migrations first)? */
  needsDb?: boolean;
};

/**
 * An answer printed like any other, with a non-zero exit status: a partial failure (some of the work done, some
 * not) that a script or a cron job must notice without parsing the output.
 */
export class PartialResult {
  constructor(
    readonly value: unknown,
    readonly exit = 1,
  ) {}
}

/** Parse a command's flags; unknown flags are a usage error, not a silent no-op. */
export function flags<T extends NonNullable<ParseArgsConfig["options"]>>(args: string[], options: T) {
  try {
    return parseArgs({ args, options: { ...options, json: { type: "boolean" } }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new AppError("usage", e instanceof Error ? e.message : String(e), 2);
  }
}

export function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === "") throw new AppError("usage", `missing --${flag}`, 2);
  return value;
}

/** A file a command was pointed at; a missing or unreadable one is a usage error (exit 2) naming it. */
export function readFile(file: string, what = "file"): Buffer {
  try {
    return fs.readFileSync(file);
  } catch {
    throw new AppError("file_unreadable", `cannot read ${what} ${file}`, 2);
  }
}

/**
 * A secret given either as a flag's value or, kept out of the process list and shell history, as a file
 * (`--<flag>-file`; its trailing newline is dropped). Both at once is a usage error.
 */
export function secretArg(value: string | undefined, file: string | undefined, flag: string): string | undefined {
  if (value !== undefined && file !== undefined) throw new AppError("usage", `give --${flag} or --${flag}-file, not both`, 2);
  return file === undefined
    ? value
    : readFile(file, `the --${flag}-file`)
        .toString("utf8")
        .replace(/\r?\n$/, "");
}
