// `pnpm gen` (second step): turns openapi.json into the SDK's generated layer under src/generated/.
// The same document always gives byte-identical files; test/generated.test.ts fails when they are stale.
//
// Files written:
//   schema.ts     openapi-typescript's `paths`, `components` and `operations` types.
//   types.ts      `export type Persona = components["schemas"]["Persona"]` for every component schema.
//   resources.ts  one class per resource with one method per operation, and `MimicResources`, the base of
//                 MimicClient that holds one instance of every top-level resource.
//
// Which resource an operation belongs to:
//   `x-sdk-resource` on the operation, dot-separated for nesting ("sessions.messages" becomes
//   `client.sessions.messages`), or else its only tag ("apiKeys" becomes `client.apiKeys`).
//
// What its method is called, first rule that applies:
//   1. `x-sdk-method` on the operation.
//   2. METHOD_NAME_OVERRIDES below, for operationIds the next rule names badly (getCurrentUser → me).
//   3. The operationId's leading verb, followed by what remains once the resource's nouns are removed
//      from just after the verb, each noun singular or plural: createPersona → create, listApiKeys → list,
//      revokeApiKey → revoke, login → login; with x-sdk-resource "sessions.messages",
//      listSessionMessages → list; getAgentAnalytics on agents → getAnalytics.
//   Two operations that end up with the same name on one resource stop the generator.
//
// How a method is shaped: path parameters become positional arguments in path order, then the JSON
// request body, then the query parameters as one object, then per-call RequestOptions. It resolves to
// the 2xx JSON body (void when there is none; the raw text for non-JSON bodies). Optional header parameters
// are left to RequestOptions.headers. A GET whose body has `data` (an array) and `pagination`
// and which takes a `page` query parameter returns a PagePromise: await it for one page, or
// `for await` over it for every item of every page.
//
// One normalization happens before openapi-typescript sees the document: a query parameter that is
// `required` yet has a `default` is made optional, because the server fills it in (the API marks
// `page`/`limit` that way today). It changes nothing once the document itself says so.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import openapiTS, { astToString, type OpenAPI3 } from "openapi-typescript";

/** The parts of an OpenAPI 3.1 document this generator reads. */
export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  tags?: { name: string; description?: string }[];
  paths?: Record<string, PathItem>;
  components?: { schemas?: Record<string, Schema> } & Record<string, unknown>;
  [key: string]: unknown;
}

type HttpMethod = "get" | "put" | "post" | "delete" | "options" | "head" | "patch" | "trace";
const HTTP_METHODS: HttpMethod[] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

interface Ref {
  $ref: string;
}
type Schema = Record<string, unknown>;
interface Parameter {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  required?: boolean;
  description?: string;
  schema?: Schema | Ref;
}
interface MediaTypes {
  content?: Record<string, { schema?: Schema | Ref }>;
  required?: boolean;
  description?: string;
}
interface OperationObject {
  operationId?: string;
  tags?: string[];
  summary?: string;
  description?: string;
  deprecated?: boolean;
  parameters?: (Parameter | Ref)[];
  requestBody?: MediaTypes | Ref;
  responses?: Record<string, MediaTypes | Ref>;
  "x-sdk-method"?: string;
  "x-sdk-resource"?: string;
}
type PathItem = { parameters?: (Parameter | Ref)[] } & { [M in HttpMethod]?: OperationObject };

/** operationIds whose verb-and-noun rule would give an unhelpful name. Prefer `x-sdk-method` on the route. */
const METHOD_NAME_OVERRIDES: Record<string, string> = {
  getCurrentUser: "me",
  getHealth: "check",
  getReadiness: "ready",
};

/** Names index.ts already exports, or globals a type alias must not shadow. */
const RESERVED_TYPE_NAMES = new Set([
  "Array",
  "Date",
  "Error",
  "Headers",
  "Object",
  "Promise",
  "Record",
  "Request",
  "Response",
  "MimicClient",
  "ClientOptions",
  "TokenSource",
  "RequestOptions",
  "PagePromise",
  "Transport",
  "FetchLike",
  "MimicResources",
  "ErrorCode",
  "MimicError",
  "BadRequestError",
  "AuthenticationError",
  "PermissionDeniedError",
  "AuthorizationError",
  "NotFoundError",
  "ConflictError",
  "ValidationError",
  "RateLimitError",
  "InternalServerError",
  "ServiceUnavailableError",
  "ConnectionError",
  "TimeoutError",
]);

/** Members of the resource classes and of MimicClient that no resource or method may take over. */
const RESERVED_MEMBERS = new Set(["constructor", "transport", "baseUrl", "setToken"]);

const HEADER = [
  "// Generated by `pnpm gen` (packages/sdk/scripts/generate.ts) from packages/sdk/openapi.json.",
  "// Do not edit: your changes would be overwritten. Change the API's route schemas, then run `pnpm gen`.",
].join("\n");

export interface GeneratedFiles {
  "schema.ts": string;
  "types.ts": string;
  "resources.ts": string;
}

/** Renders the three files of src/generated from an OpenAPI document. Pure: no file is read or written. */
export async function generate(document: OpenApiDocument): Promise<GeneratedFiles> {
  const normalized = normalize(document);
  const ast = await openapiTS(normalized as unknown as OpenAPI3, { silent: true });
  // The TypeScript printer uses the platform's line ending; the committed file must not depend on it.
  const schema = `${HEADER}\n\n${astToString(ast).replace(/\r\n/g, "\n")}`;
  const aliases = typeAliases(normalized);
  return {
    "schema.ts": schema,
    "types.ts": renderTypes(normalized, aliases),
    "resources.ts": renderResources(collectResources(normalized, aliases), aliases),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Document preparation

function normalize(document: OpenApiDocument): OpenApiDocument {
  const copy = structuredClone(document);
  const relax = (parameter: Parameter | Ref) => {
    if ("$ref" in parameter) return;
    const schema = parameter.schema;
    if (
      parameter.in === "query" &&
      parameter.required &&
      schema &&
      !("$ref" in schema) &&
      "default" in schema
    )
      parameter.required = false;
  };
  for (const item of Object.values(copy.paths ?? {})) {
    for (const parameter of item.parameters ?? []) relax(parameter);
    for (const method of HTTP_METHODS)
      for (const parameter of item[method]?.parameters ?? []) relax(parameter);
  }
  return copy;
}

function resolve<T>(document: OpenApiDocument, value: T | Ref): T {
  let current: unknown = value;
  for (let depth = 0; isRef(current); depth++) {
    if (depth > 20) throw new Error(`circular $ref ${current.$ref}`);
    const ref: string = current.$ref;
    if (!ref.startsWith("#/")) throw new Error(`only local $refs are supported, got ${ref}`);
    current = ref
      .slice(2)
      .split("/")
      .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"))
      .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], document);
    if (current === undefined) throw new Error(`unresolved $ref ${ref}`);
  }
  return current as T;
}

function isRef(value: unknown): value is Ref {
  return typeof value === "object" && value !== null && typeof (value as Ref).$ref === "string";
}

// ---------------------------------------------------------------------------------------------------------
// Names

const IDENTIFIER_RE = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function camelCase(value: string): string {
  const out = value.replace(/[-_. ]+([A-Za-z0-9])/g, (_, ch: string) => ch.toUpperCase());
  return out.charAt(0).toLowerCase() + out.slice(1);
}

function pascalCase(value: string): string {
  const camel = camelCase(value);
  return camel.charAt(0).toUpperCase() + camel.slice(1);
}

function singular(word: string): string {
  if (/ies$/.test(word)) return `${word.slice(0, -3)}y`;
  if (/(ss|x|ch|sh)es$/.test(word)) return word.slice(0, -2);
  if (/[^s]s$/.test(word)) return word.slice(0, -1);
  return word;
}

function methodNameOf(operation: OperationObject, operationId: string, resourcePath: string[]): string {
  const explicit = operation["x-sdk-method"] ?? METHOD_NAME_OVERRIDES[operationId];
  if (explicit) return explicit;
  const verb = /^[a-z0-9]+/.exec(operationId)?.[0];
  if (!verb)
    throw new Error(`operationId ${operationId} must start with a lowercase verb (e.g. listPersonas)`);
  let rest = operationId.slice(verb.length);
  for (const segment of resourcePath) {
    const plural = pascalCase(segment);
    for (const noun of [plural, singular(plural)]) {
      const boundary = rest.charAt(noun.length);
      if (rest.startsWith(noun) && (boundary === "" || /[A-Z0-9]/.test(boundary))) {
        rest = rest.slice(noun.length);
        break;
      }
    }
  }
  return verb + rest;
}

function typeAliases(document: OpenApiDocument): Map<string, string> {
  const aliases = new Map<string, string>();
  const taken = new Map<string, string>();
  for (const name of Object.keys(document.components?.schemas ?? {}).sort()) {
    let alias = pascalCase(name.replace(/[^A-Za-z0-9_]+/g, "_"));
    if (!IDENTIFIER_RE.test(alias)) alias = `Schema${alias}`;
    if (RESERVED_TYPE_NAMES.has(alias)) alias = `${alias}Body`;
    const clash = taken.get(alias);
    if (clash) throw new Error(`component schemas ${clash} and ${name} would both be exported as ${alias}`);
    taken.set(alias, name);
    aliases.set(name, alias);
  }
  return aliases;
}

// ---------------------------------------------------------------------------------------------------------
// Operations and resources

interface PathArgument {
  name: string;
  identifier: string;
  type: string;
}

interface OperationModel {
  operationId: string;
  method: HttpMethod;
  path: string;
  name: string;
  summary: string | undefined;
  description: string | undefined;
  deprecated: boolean;
  pathArguments: PathArgument[];
  query: { required: boolean; typeName: string } | undefined;
  body: { required: boolean; type: string } | undefined;
  result: { type: string; parseAs: "json" | "text" | "blob" };
  paginated: boolean;
}

interface ResourceModel {
  path: string[];
  className: string;
  property: string;
  description: string | undefined;
  operations: OperationModel[];
  children: ResourceModel[];
}

const JSON_MEDIA_RE = /^application\/(.+\+)?json$/;
const TEXT_MEDIA_RE = /^(text\/.*|application\/(.+\+)?(json|xml)|application\/x-ndjson|application\/jsonl)$/;

function collectResources(document: OpenApiDocument, aliases: Map<string, string>): ResourceModel[] {
  const roots: ResourceModel[] = [];
  const byKey = new Map<string, ResourceModel>();
  const tagOrder = (document.tags ?? []).map((tag) => camelCase(tag.name));
  const tagDescriptions = new Map((document.tags ?? []).map((tag) => [camelCase(tag.name), tag.description]));

  const resourceFor = (path: string[]): ResourceModel => {
    const key = path.join(".");
    const existing = byKey.get(key);
    if (existing) return existing;
    const property = path.at(-1)!;
    const node: ResourceModel = {
      path,
      className: `${path.map(pascalCase).join("")}Resource`,
      property,
      description: path.length === 1 ? tagDescriptions.get(property) : undefined,
      operations: [],
      children: [],
    };
    byKey.set(key, node);
    if (path.length === 1) roots.push(node);
    else resourceFor(path.slice(0, -1)).children.push(node);
    return node;
  };

  const seenOperationIds = new Set<string>();
  const paths = document.paths ?? {};
  for (const path of Object.keys(paths).sort()) {
    const item = paths[path]!;
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const where = `${method.toUpperCase()} ${path}`;
      const { operationId } = operation;
      if (!operationId) throw new Error(`${where} has no operationId`);
      if (seenOperationIds.has(operationId)) throw new Error(`operationId ${operationId} is used twice`);
      seenOperationIds.add(operationId);
      const resourcePath = resourcePathOf(operation, where);
      const model = operationModel(
        document,
        aliases,
        path,
        method,
        item,
        operation,
        operationId,
        resourcePath,
      );
      resourceFor(resourcePath).operations.push(model);
    }
  }

  for (const node of byKey.values()) {
    node.operations.sort((a, b) => compare(a.name, b.name));
    node.children.sort((a, b) => compare(a.property, b.property));
    const names = new Map<string, string>();
    for (const child of node.children)
      names.set(child.property, `the nested resource ${child.path.join(".")}`);
    for (const operation of node.operations) {
      if (RESERVED_MEMBERS.has(operation.name))
        throw new Error(`${operation.operationId}: method name "${operation.name}" is reserved`);
      if (!IDENTIFIER_RE.test(operation.name))
        throw new Error(`${operation.operationId}: method name "${operation.name}" is not an identifier`);
      const clash = names.get(operation.name);
      if (clash)
        throw new Error(
          `${node.path.join(".")}.${operation.name} would be both ${clash} and operation ${operation.operationId}; ` +
            "set x-sdk-method on one of them",
        );
      names.set(operation.name, `operation ${operation.operationId}`);
    }
  }
  // Declared tags keep the document's order (that is how its authors present them); the rest follow by name.
  const rank = (name: string) => (tagOrder.includes(name) ? tagOrder.indexOf(name) : tagOrder.length);
  return roots.sort((a, b) => rank(a.property) - rank(b.property) || compare(a.property, b.property));
}

function resourcePathOf(operation: OperationObject, where: string): string[] {
  const explicit = operation["x-sdk-resource"];
  const path = explicit
    ? explicit.split(".").map(camelCase)
    : operation.tags?.length === 1
      ? [camelCase(operation.tags[0]!)]
      : undefined;
  if (!path) throw new Error(`${where} needs exactly one tag, or an x-sdk-resource extension`);
  for (const segment of path)
    if (!IDENTIFIER_RE.test(segment) || RESERVED_MEMBERS.has(segment))
      throw new Error(`${where}: "${segment}" cannot name a resource`);
  return path;
}

function operationModel(
  document: OpenApiDocument,
  aliases: Map<string, string>,
  path: string,
  method: HttpMethod,
  item: PathItem,
  operation: OperationObject,
  operationId: string,
  resourcePath: string[],
): OperationModel {
  const where = `${operationId} (${method.toUpperCase()} ${path})`;
  const op = `operations[${JSON.stringify(operationId)}]`;

  // Operation-level parameters override path-level ones with the same name and location.
  const parameters = new Map<string, Parameter>();
  for (const raw of [...(item.parameters ?? []), ...(operation.parameters ?? [])]) {
    const parameter = resolve<Parameter>(document, raw);
    parameters.set(`${parameter.in}:${parameter.name}`, parameter);
  }
  const all = [...parameters.values()];
  // Optional headers go through RequestOptions.headers; a required one would need an argument of its own.
  for (const parameter of all)
    if ((parameter.in === "header" || parameter.in === "cookie") && parameter.required)
      throw new Error(`${where}: required ${parameter.in} parameter ${parameter.name} is not supported yet`);

  const pathNames = [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]!);
  const pathArguments = pathNames.map((name): PathArgument => {
    const parameter = all.find((p) => p.in === "path" && p.name === name);
    if (!parameter) throw new Error(`${where}: path parameter {${name}} is not declared`);
    const identifier = camelCase(name);
    if (!IDENTIFIER_RE.test(identifier) || ["body", "query", "options"].includes(identifier))
      throw new Error(`${where}: path parameter ${name} cannot be an argument name`);
    const schema = parameter.schema ? resolve<Schema>(document, parameter.schema) : {};
    const primitive = { string: "string", integer: "number", number: "number", boolean: "boolean" }[
      String(schema.type)
    ];
    const type =
      primitive && !schema.enum && !schema.const
        ? primitive
        : `${op}["parameters"]["path"][${JSON.stringify(name)}]`;
    return { name, identifier, type };
  });

  const queryParameters = all.filter((p) => p.in === "query");
  const query = queryParameters.length
    ? { required: queryParameters.some((p) => p.required), typeName: `${pascalCase(operationId)}Query` }
    : undefined;

  let body: OperationModel["body"];
  if (operation.requestBody) {
    const requestBody = resolve<MediaTypes>(document, operation.requestBody);
    const mediaTypes = Object.keys(requestBody.content ?? {});
    const json = mediaTypes.find((m) => JSON_MEDIA_RE.test(m));
    if (!json) throw new Error(`${where}: request bodies other than JSON are not supported yet`);
    const schema = requestBody.content?.[json]?.schema;
    body = {
      required: requestBody.required === true,
      type: typeOf(schema, aliases, `NonNullable<${op}["requestBody"]>["content"][${JSON.stringify(json)}]`),
    };
  }

  const result = resultOf(document, aliases, operation, op, where);
  const paginated =
    method === "get" && result.parseAs === "json" && queryParameters.some((p) => p.name === "page")
      ? isPageSchema(document, operation)
      : false;

  return {
    operationId,
    method,
    path,
    name: methodNameOf(operation, operationId, resourcePath),
    summary: operation.summary,
    description: operation.description,
    deprecated: operation.deprecated === true,
    pathArguments,
    query,
    body,
    result,
    paginated,
  };
}

function successStatuses(operation: OperationObject): string[] {
  return Object.keys(operation.responses ?? {})
    .filter((status) => /^2(\d\d|XX)$/i.test(status))
    .sort();
}

function resultOf(
  document: OpenApiDocument,
  aliases: Map<string, string>,
  operation: OperationObject,
  op: string,
  where: string,
): OperationModel["result"] {
  const types: string[] = [];
  let parseAs: OperationModel["result"]["parseAs"] = "json";
  let empty = false;
  for (const status of successStatuses(operation)) {
    const response = resolve<MediaTypes>(document, operation.responses?.[status] ?? {});
    const mediaTypes = Object.keys(response.content ?? {});
    if (mediaTypes.length === 0) {
      empty = true;
      continue;
    }
    const json = mediaTypes.find((m) => JSON_MEDIA_RE.test(m));
    if (json && mediaTypes.length === 1) {
      const key = /^\d+$/.test(status) ? status : JSON.stringify(status);
      const fallback = `${op}["responses"][${key}]["content"][${JSON.stringify(json)}]`;
      types.push(typeOf(response.content?.[json]?.schema, aliases, fallback));
    } else {
      // Several representations (an export in json, markdown or jsonl) or a non-JSON one: hand back the raw body.
      const textual = mediaTypes.every((m) => TEXT_MEDIA_RE.test(m));
      if (parseAs !== "json" && parseAs !== (textual ? "text" : "blob"))
        throw new Error(`${where}: mixes text and binary success responses`);
      parseAs = textual ? "text" : "blob";
      types.push(textual ? "string" : "Blob");
    }
  }
  if (parseAs !== "json" && types.some((t) => t !== "string" && t !== "Blob"))
    throw new Error(`${where}: mixes JSON and non-JSON success responses`);
  const unique = [...new Set(types)];
  if (unique.length === 0) return { type: "void", parseAs };
  if (empty) unique.push("undefined");
  return { type: unique.join(" | "), parseAs };
}

function isPageSchema(document: OpenApiDocument, operation: OperationObject): boolean {
  const [status] = successStatuses(operation);
  if (!status) return false;
  const response = resolve<MediaTypes>(document, operation.responses?.[status] ?? {});
  const json = Object.keys(response.content ?? {}).find((m) => JSON_MEDIA_RE.test(m));
  const raw = json ? response.content?.[json]?.schema : undefined;
  if (!raw) return false;
  const schema = resolve<Schema>(document, raw);
  const properties = (schema.properties ?? {}) as Record<string, Schema | Ref>;
  const required = (schema.required ?? []) as string[];
  const data = properties.data ? resolve<Schema>(document, properties.data) : undefined;
  return (
    data?.type === "array" &&
    properties.pagination !== undefined &&
    required.includes("data") &&
    required.includes("pagination")
  );
}

function typeOf(schema: Schema | Ref | undefined, aliases: Map<string, string>, fallback: string): string {
  if (isRef(schema)) {
    const match = /^#\/components\/schemas\/([^/]+)$/.exec(schema.$ref);
    const alias = match ? aliases.get(match[1]!.replace(/~1/g, "/").replace(/~0/g, "~")) : undefined;
    if (alias) return alias;
  }
  return fallback;
}

// ---------------------------------------------------------------------------------------------------------
// Rendering

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A JSDoc block at the given indentation, or nothing when there is nothing to say. */
function docComment(lines: (string | undefined)[], indent: string): string[] {
  const paragraphs = lines.filter((line): line is string => line !== undefined && line.trim() !== "");
  if (paragraphs.length === 0) return [];
  const body = paragraphs.flatMap((paragraph, index) => [
    ...(index > 0 && !paragraph.startsWith("@") ? [""] : []),
    ...paragraph.replace(/\*\//g, "*\\/").split("\n"),
  ]);
  if (body.length === 1) return [`${indent}/** ${body[0]} */`];
  return [
    `${indent}/**`,
    ...body.map((line) => (line ? `${indent} * ${line}` : `${indent} *`)),
    `${indent} */`,
  ];
}

function renderTypes(document: OpenApiDocument, aliases: Map<string, string>): string {
  const lines = [
    HEADER,
    "// One alias per component schema of the API document, so SDK users write `Persona`, not an indexed type.",
    'import type { components } from "./schema.js";',
  ];
  // A documented alias stands apart; undocumented ones read as one list.
  let separate = true;
  for (const [name, alias] of [...aliases].sort(([a], [b]) => compare(a, b))) {
    const schema = document.components?.schemas?.[name] ?? {};
    const doc = docComment([typeof schema.description === "string" ? schema.description : undefined], "");
    if (doc.length || separate) lines.push("");
    lines.push(...doc, `export type ${alias} = components["schemas"][${JSON.stringify(name)}];`);
    separate = doc.length > 0;
  }
  return `${lines.join("\n")}\n`;
}

function renderResources(resources: ResourceModel[], aliases: Map<string, string>): string {
  const flat: ResourceModel[] = [];
  const walk = (node: ResourceModel) => {
    flat.push(node);
    node.children.forEach(walk);
  };
  resources.forEach(walk);
  const operations = flat.flatMap((node) => node.operations);

  const usedAliases = new Set<string>();
  const aliasNames = new Set(aliases.values());
  for (const operation of operations)
    for (const type of [operation.result.type, operation.body?.type ?? ""])
      for (const part of type.split(" | ")) if (aliasNames.has(part)) usedAliases.add(part);
  const needsOperations = operations.some(
    (operation) =>
      operation.query ||
      [operation.result.type, operation.body?.type ?? "", ...operation.pathArguments.map((a) => a.type)].some(
        (type) => type.includes("operations["),
      ),
  );

  const lines: string[] = [
    HEADER,
    "// One class per API resource and one method per operation. Hand-written code extends these classes",
    "// (src/client.ts, src/index.ts), so regenerating never loses it.",
  ];
  if (operations.some((operation) => operation.paginated))
    lines.push('import { PagePromise } from "../pagination.js";');
  lines.push('import type { RequestOptions, Transport } from "../transport.js";');
  if (needsOperations) lines.push('import type { operations } from "./schema.js";');
  if (usedAliases.size)
    lines.push(
      "import type {",
      ...[...usedAliases].sort(compare).map((name) => `  ${name},`),
      '} from "./types.js";',
    );

  const queries = operations
    .filter((operation) => operation.query)
    .sort((a, b) => compare(a.operationId, b.operationId));
  // index.ts re-exports all of these next to types.ts: a name may only mean one thing.
  const exported = new Map<string, string>();
  const claim = (name: string, what: string) => {
    const previous = exported.get(name);
    if (previous) throw new Error(`${name} would name both ${previous} and ${what}`);
    exported.set(name, what);
  };
  for (const alias of aliasNames) claim(alias, "a component schema");
  claim("MimicResources", "the client's base class");
  for (const node of flat) claim(node.className, `the resource ${node.path.join(".")}`);
  for (const operation of queries) claim(operation.query!.typeName, `the query of ${operation.operationId}`);
  for (const operation of queries) {
    lines.push(
      "",
      `/** Query parameters of \`${operation.method.toUpperCase()} ${operation.path}\` (${operation.operationId}). */`,
      `export type ${operation.query!.typeName} = NonNullable<operations[${JSON.stringify(operation.operationId)}]["parameters"]["query"]>;`,
    );
  }

  for (const node of flat) lines.push("", ...renderResource(node));

  lines.push(
    "",
    "/** Every top-level resource, all sharing one transport. MimicClient extends this class. */",
    "export class MimicResources {",
    ...resources.map((node) => `  readonly ${node.property}: ${node.className};`),
    "",
    "  constructor(protected readonly transport: Transport) {",
    ...resources.map((node) => `    this.${node.property} = new ${node.className}(transport);`),
    "  }",
    "}",
  );
  return `${lines.join("\n")}\n`;
}

function renderResource(node: ResourceModel): string[] {
  const accessor = `client.${node.path.join(".")}`;
  const lines = [
    ...docComment([node.description, `\`${accessor}\``], ""),
    `export class ${node.className} {`,
  ];
  for (const child of node.children) lines.push(`  readonly ${child.property}: ${child.className};`);
  if (node.children.length) {
    lines.push(
      "",
      "  constructor(protected readonly transport: Transport) {",
      ...node.children.map((child) => `    this.${child.property} = new ${child.className}(transport);`),
      "  }",
    );
  } else {
    lines.push("  constructor(protected readonly transport: Transport) {}");
  }
  for (const operation of node.operations) lines.push("", ...renderMethod(operation));
  lines.push("}");
  return lines;
}

function renderMethod(operation: OperationModel): string[] {
  const args: { name: string; type: string; optional: boolean }[] = [
    ...operation.pathArguments.map((a) => ({ name: a.identifier, type: a.type, optional: false })),
  ];
  if (operation.body)
    args.push({ name: "body", type: operation.body.type, optional: !operation.body.required });
  if (operation.query)
    args.push({ name: "query", type: operation.query.typeName, optional: !operation.query.required });
  args.push({ name: "options", type: "RequestOptions", optional: true });
  // An optional argument may not precede a required one: it then takes `| undefined` instead.
  const lastRequired = args.findLastIndex((arg) => !arg.optional);
  const signature = args
    .map((arg, index) =>
      !arg.optional
        ? `${arg.name}: ${arg.type}`
        : index < lastRequired
          ? `${arg.name}: ${arg.type} | undefined`
          : `${arg.name}?: ${arg.type}`,
    )
    .join(", ");

  const params: string[] = [];
  if (operation.pathArguments.length) {
    const fields = operation.pathArguments.map((a) =>
      a.identifier === a.name
        ? a.name
        : `${IDENTIFIER_RE.test(a.name) ? a.name : JSON.stringify(a.name)}: ${a.identifier}`,
    );
    params.push(`path: { ${fields.join(", ")} }`);
  }
  if (operation.query) params.push(operation.paginated ? "query: { ...query, page }" : "query");
  const init = ["...init"];
  if (operation.result.parseAs !== "json") init.push(`parseAs: ${JSON.stringify(operation.result.parseAs)}`);
  if (params.length) init.push(`params: { ${params.join(", ")} }`);
  if (operation.body) init.push("body");
  const fetchOptions = init.length === 1 ? "init" : `{ ${init.join(", ")} }`;
  const call = `api.${operation.method.toUpperCase()}(${JSON.stringify(operation.path)}, ${fetchOptions})`;
  const type = operation.result.type;

  const doc = docComment(
    [
      operation.summary,
      operation.description,
      `\`${operation.method.toUpperCase()} ${operation.path}\` (operation \`${operation.operationId}\`)`,
      operation.paginated
        ? "Await the result for one page, or iterate it with `for await` for every item of every page."
        : undefined,
      operation.deprecated ? "@deprecated" : undefined,
    ],
    "  ",
  );
  if (operation.paginated) {
    return [
      ...doc,
      `  ${operation.name}(${signature}): PagePromise<${type}> {`,
      `    return new PagePromise(query?.page ?? 1, (page) =>`,
      `      this.transport.call<${type}>(options, (api, init) =>`,
      `        ${call},`,
      "      ),",
      "    );",
      "  }",
    ];
  }
  const oneLine = `    return this.transport.call<${type}>(options, (api, init) => ${call});`;
  return [
    ...doc,
    `  ${operation.name}(${signature}): Promise<${type}> {`,
    ...(oneLine.length <= 110
      ? [oneLine]
      : [`    return this.transport.call<${type}>(options, (api, init) =>`, `      ${call},`, "    );"]),
    "  }",
  ];
}

// ---------------------------------------------------------------------------------------------------------
// Command line

const packageRoot = fileURLToPath(new URL("..", import.meta.url));

/** Reads the committed openapi.json of this package. */
export function readDocument(): OpenApiDocument {
  return JSON.parse(readFileSync(`${packageRoot}openapi.json`, "utf8")) as OpenApiDocument;
}

export const GENERATED_DIR = `${packageRoot}src/generated/`;

async function main() {
  const files = await generate(readDocument());
  mkdirSync(GENERATED_DIR, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(`${GENERATED_DIR}${name}`, content);
    console.log(`wrote src/generated/${name}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
