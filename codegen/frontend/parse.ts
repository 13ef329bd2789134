// The frontend: reads kernel() declarations out of TypeScript source with ts-morph. `kernel` is
// resolved through its import to dsl/kernel.ts (not matched by name), so a local function that
// happens to be called `kernel` is never mistaken for one.
import path from "node:path";
import { Node, Project, SyntaxKind, type ArrowFunction, type Block, type CallExpression, type Expression, type FunctionDeclaration, type FunctionExpression, type ParameterDeclaration, type SourceFile, type Statement } from "ts-morph";
import { compileError } from "./errors.ts";
import { inlineHelper } from "./inline.ts";
import { kastVersion, type BinaryOp, type KExpr, type KParam, type KStmt, type KernelAst, type Span } from "./kast.ts";

const dslKernelModule = path.resolve(import.meta.dirname, "../../dsl/kernel.ts");
/** The DSL's own modules (primitives, kernel(), Global): calls into them are built-ins, never inlined. */
const dslCoreDir = path.resolve(import.meta.dirname, "../../dsl");

let sharedProject: Project | undefined;
function project(): Project {
  sharedProject ??= new Project({ compilerOptions: { allowImportingTsExtensions: true, noEmit: true, strict: true }, skipAddingFilesFromTsConfig: true });
  return sharedProject;
}

/** Parses every exported kernel() declaration in a file. */
export function parseKernelFile(file: string): KernelAst[] {
  const absolute = path.resolve(file);
  const existing = project().getSourceFile(absolute);
  if (existing) existing.refreshFromFileSystemSync();
  const source = existing ?? project().addSourceFileAtPath(absolute);
  project().resolveSourceFileDependencies();
  return findKernelCalls(source).map(({ exportName, call, fn }) => parseKernel(source, exportName, call, fn));
}

function findKernelCalls(source: SourceFile) {
  const found: { exportName: string; call: CallExpression; fn: FunctionExpression }[] = [];
  for (const decl of source.getVariableDeclarations()) {
    const init = decl.getInitializer();
    if (!init || !Node.isCallExpression(init)) continue;
    const inner = init.getExpression();
    if (!Node.isCallExpression(inner) || !isDslKernel(inner.getExpression())) continue;
    const fn = init.getArguments()[0];
    if (!fn || !Node.isFunctionExpression(fn)) throw compileError(spanOf(init), "kernel(options)(...) takes a named function expression");
    found.push({ exportName: decl.getName(), call: inner, fn });
  }
  return found;
}

function isDslKernel(callee: Node): boolean {
  const symbol = callee.getSymbol();
  const target = symbol?.getAliasedSymbol() ?? symbol;
  return (target?.getDeclarations() ?? []).some((d) => path.resolve(d.getSourceFile().getFilePath()) === dslKernelModule);
}

export function spanOf(node: Node): Span {
  const sf = node.getSourceFile();
  const { line, column } = sf.getLineAndColumnAtPos(node.getStart());
  return { file: path.relative(process.cwd(), sf.getFilePath()), line, column };
}

function parseKernel(source: SourceFile, exportName: string, optionsCall: CallExpression, fn: FunctionExpression): KernelAst {
  // Inlined helpers' names need only be unique within their kernel; numbering afresh keeps a
  // kernel's generated code the same whatever the process parsed before it.
  helperCount = 0;
  const name = fn.getName();
  if (!name) throw compileError(spanOf(fn), "kernel functions must be named (the name becomes the C symbol)");
  const dtypeVars = fn.getTypeParameters().map((t) => t.getName());
  const params = fn.getParameters().map((p) => parseParam(p, dtypeVars));
  const { grid, work, threads } = parseOptions(optionsCall, params);
  const body = fn.getBody();
  if (!body || !Node.isBlock(body)) throw compileError(spanOf(fn), "kernel body must be a block");
  return {
    version: kastVersion,
    name,
    file: path.relative(process.cwd(), source.getFilePath()),
    exportName,
    dtypeVars,
    params,
    grid,
    ...(work ? { work } : {}),
    threads,
    body: body.getStatements().flatMap(parseStatement),
    span: spanOf(fn),
  };
}

function parseOptions(call: CallExpression, params: KParam[]): { grid: KExpr[]; work?: KExpr[]; threads: number } {
  const options = call.getArguments()[0];
  if (!options || !Node.isObjectLiteralExpression(options)) throw compileError(spanOf(call), "kernel() takes an options object literal");
  let grid: KExpr[] | undefined;
  let work: KExpr[] | undefined;
  let threads = 128;
  for (const prop of options.getProperties()) {
    if (!Node.isPropertyAssignment(prop)) throw compileError(spanOf(prop), "kernel options must be plain `name: value` properties");
    const value = prop.getInitializerOrThrow();
    if (prop.getName() === "grid") grid = parseAxes(value, params, "grid", 3);
    else if (prop.getName() === "work") work = parseAxes(value, params, "work", 8);
    else if (prop.getName() === "threads") {
      if (!Node.isNumericLiteral(value)) throw compileError(spanOf(value), "threads must be a number literal");
      threads = value.getLiteralValue();
      if (threads % 32 !== 0 || threads < 32 || threads > 1024) throw compileError(spanOf(value), `threads must be a multiple of 32 in [32, 1024], got ${threads}`);
    } else throw compileError(spanOf(prop), `unknown kernel option "${prop.getName()}"`);
  }
  if (!grid) throw compileError(spanOf(options), "kernel options need a grid");
  return { grid, work, threads };
}

/** grid / work: (x, w, ...) => [x.dim(0), ...]: positional names are renamed to the kernel's parameters. */
function parseAxes(value: Expression, params: KParam[], option: "grid" | "work", most: number): KExpr[] {
  if (!Node.isArrowFunction(value)) throw compileError(spanOf(value), `${option} must be an arrow function`);
  const rename = new Map(value.getParameters().map((p, i) => [p.getName(), params[i]?.name ?? p.getName()]));
  const result = arrowResult(value);
  if (!Node.isArrayLiteralExpression(result)) throw compileError(spanOf(result), `${option} must return an array literal`);
  const axes = result.getElements().map((e) => renameIdents(parseExpr(e), rename));
  if (axes.length < 1 || axes.length > most) throw compileError(spanOf(result), `${option} has 1 to ${most} entries`);
  return axes;
}

function renameIdents(e: KExpr, rename: Map<string, string>): KExpr {
  const r = (x: KExpr) => renameIdents(x, rename);
  switch (e.kind) {
    case "ident": return { ...e, name: rename.get(e.name) ?? e.name };
    case "dim": return { ...e, target: rename.get(e.target) ?? e.target };
    case "at": return { ...e, target: rename.get(e.target) ?? e.target, indices: e.indices.map(r) };
    case "binary": return { ...e, left: r(e.left), right: r(e.right) };
    case "unary": return { ...e, operand: r(e.operand) };
    case "ternary": return { ...e, cond: r(e.cond), then: r(e.then), else: r(e.else) };
    case "call": return { ...e, args: e.args.map(r) };
    case "reduce": return { ...e, count: r(e.count), term: r(e.term) };
    default: return e;
  }
}

function parseParam(p: ParameterDeclaration, dtypeVars: string[]): KParam {
  const span = spanOf(p);
  const typeNode = p.getTypeNode();
  if (!typeNode || !Node.isTypeReference(typeNode)) throw compileError(span, `parameter "${p.getName()}" needs a type: Global<dtype, [dims]>, f32, i32 or Const`);
  const typeName = typeNode.getTypeName().getText();
  if (typeName === "f32" || typeName === "i32") return { kind: "scalar", name: p.getName(), type: typeName, span };
  if (typeName === "Const") return { kind: "const", name: p.getName(), span };
  if (typeName !== "Global") throw compileError(span, `unsupported parameter type "${typeName}"`);
  const [dtypeNode, shapeNode] = typeNode.getTypeArguments();
  if (!dtypeNode || !shapeNode || !Node.isTupleTypeNode(shapeNode)) throw compileError(span, "Global needs <dtype, [dim names]>");
  const dtypeText = dtypeNode.getText().replace(/^"|"$/g, "");
  if (!Node.isLiteralTypeNode(dtypeNode) && !dtypeVars.includes(dtypeText)) throw compileError(span, `dtype "${dtypeText}" is neither a dtype literal nor a type parameter of the kernel`);
  const dims = shapeNode.getElements().map((el) => {
    if (!Node.isLiteralTypeNode(el)) throw compileError(spanOf(el), "dims are named with string literals");
    return el.getText().replace(/^"|"$/g, "");
  });
  return { kind: "global", name: p.getName(), dtype: dtypeText, dims, span };
}

function parseStatement(s: Statement): KStmt[] {
  const span = spanOf(s);
  if (Node.isVariableStatement(s)) {
    const decls = s.getDeclarations();
    if (decls.length !== 1) throw compileError(span, "declare one variable per statement");
    const d = decls[0];
    const init = d.getInitializer();
    if (!init) throw compileError(span, `"${d.getName()}" needs an initial value`);
    if (!Node.isIdentifier(d.getNameNode())) throw compileError(span, "destructuring is not supported in kernels");
    if (Node.isCallExpression(init) && init.getExpression().getText() === "scratch") {
      return [{ kind: "scratch", name: d.getName(), size: parseExpr(init.getArguments()[0] as Expression), span }];
    }
    const mutable = s.getDeclarationKind() === "let";
    return [{ kind: "let", name: d.getName(), mutable, init: parseExpr(init), span }];
  }
  if (Node.isExpressionStatement(s)) return parseExpressionStatement(s.getExpression(), span);
  if (Node.isForStatement(s)) return [parseFor(s, span)];
  if (Node.isIfStatement(s)) {
    const elseStmt = s.getElseStatement();
    return [{ kind: "if", cond: parseExpr(s.getExpression()), then: parseBlock(s.getThenStatement()), else: elseStmt ? parseBlock(elseStmt) : [], span }];
  }
  if (Node.isBlock(s)) throw compileError(span, "bare blocks are not supported in kernels");
  throw compileError(span, `unsupported statement in a kernel: ${s.getKindName()}`);
}

function parseBlock(s: Statement): KStmt[] {
  return Node.isBlock(s) ? s.getStatements().flatMap(parseStatement) : parseStatement(s);
}

function parseExpressionStatement(e: Expression, span: Span): KStmt[] {
  if (Node.isBinaryExpression(e)) {
    const op = e.getOperatorToken().getText();
    const left = e.getLeft();
    if (op === "=" || op === "+=" || op === "-=" || op === "*=" || op === "/=") {
      if (!Node.isIdentifier(left)) throw compileError(span, "only local variables can be assigned; use .put() for memory");
      return [{ kind: "assign", name: left.getText(), op, value: parseExpr(e.getRight()), span }];
    }
  }
  if (Node.isCallExpression(e)) {
    const callee = e.getExpression();
    if (Node.isIdentifier(callee) && callee.getText() === "forEach") {
      const [count, body] = e.getArguments();
      const fn = asArrow(body, span);
      const fnBody = fn.getBody();
      const stmts = Node.isBlock(fnBody) ? fnBody.getStatements().flatMap(parseStatement) : parseExpressionStatement(fnBody as Expression, spanOf(fnBody));
      return [{ kind: "forEach", count: parseExpr(count as Expression), index: singleParam(fn, span), body: stmts, span }];
    }
    if (Node.isIdentifier(callee) && callee.getText() === "dotTile") return [parseDotTile(e, span)];
    if (Node.isPropertyAccessExpression(callee) && callee.getName() === "put") {
      const args = e.getArguments().map((a) => parseExpr(a as Expression));
      if (args.length < 2) throw compileError(span, ".put(indices..., value) needs at least an index and a value");
      return [{ kind: "put", target: callee.getExpression().getText(), indices: args.slice(0, -1), value: args[args.length - 1], span }];
    }
    if (Node.isPropertyAccessExpression(callee) && callee.getName() === "prefetch") {
      return [{ kind: "prefetch", target: callee.getExpression().getText(), indices: e.getArguments().map((a) => parseExpr(a as Expression)), span }];
    }
    const helper = Node.isIdentifier(callee) ? helperDeclaration(callee) : undefined;
    if (helper) return parseHelperCall(helper, e, span);
  }
  throw compileError(span, `unsupported expression statement: ${e.getText().slice(0, 60)}`);
}

/** A call of a plain function declared outside the DSL's own modules: a helper to inline. */
function helperDeclaration(callee: Node): FunctionDeclaration | undefined {
  const symbol = callee.getSymbol();
  const target = symbol?.getAliasedSymbol() ?? symbol;
  const decl = target?.getDeclarations().find((d): d is FunctionDeclaration => Node.isFunctionDeclaration(d));
  if (!decl || !decl.getBody() || path.dirname(path.resolve(decl.getSourceFile().getFilePath())) === dslCoreDir) return undefined;
  return decl;
}

let helperDepth = 0;
let helperCount = 0;

function parseHelperCall(helper: FunctionDeclaration, call: CallExpression, span: Span): KStmt[] {
  const name = helper.getName() ?? "helper";
  if (helperDepth >= 16) throw compileError(span, `${name}(): helper calls nest more than 16 deep (is it recursive?)`);
  helperDepth++;
  try {
    const body = (helper.getBodyOrThrow() as Block).getStatements().flatMap(parseStatement);
    const params = helper.getParameters().map((p) => p.getName());
    return inlineHelper(name, params, call.getArguments().map((a) => parseExpr(a as Expression)), body, `${name}${helperCount++}`, span);
  } finally {
    helperDepth--;
  }
}

/** dotTile(scratch, at, rows, cols, n, (i, k) => a, (j, k) => b[, prefetchAhead]) */
function parseDotTile(e: CallExpression, span: Span): KStmt {
  const args = e.getArguments() as Expression[];
  if ((args.length !== 7 && args.length !== 8) || !Node.isIdentifier(args[0])) {
    throw compileError(span, "dotTile(scratch, at, rows, cols, n, (i, k) => a, (j, k) => b[, prefetchAhead]) takes seven or eight arguments, the first a scratch");
  }
  const operand = (node: Expression): { index: string; k: string; term: KExpr } => {
    const fn = asArrow(node, span);
    const ps = fn.getParameters();
    if (ps.length !== 2) throw compileError(spanOf(fn), "a dotTile operand takes (index, k)");
    return { index: ps[0].getName(), k: ps[1].getName(), term: parseExpr(arrowResult(fn)) };
  };
  return { kind: "dotTile", target: args[0].getText(), at: parseExpr(args[1]), rows: parseExpr(args[2]), cols: parseExpr(args[3]), count: parseExpr(args[4]), a: operand(args[5]), b: operand(args[6]), ...(args[7] ? { prefetchAhead: parseExpr(args[7]) } : {}), span };
}

function parseFor(s: import("ts-morph").ForStatement, span: Span): KStmt {
  const init = s.getInitializer();
  if (!init || !Node.isVariableDeclarationList(init) || init.getDeclarations().length !== 1) throw compileError(span, "for loops need `let i = start`");
  const decl = init.getDeclarations()[0];
  const index = decl.getName();
  const cond = s.getCondition();
  if (!cond || !Node.isBinaryExpression(cond) || cond.getOperatorToken().getText() !== "<" || cond.getLeft().getText() !== index) {
    throw compileError(span, `for loops need the condition \`${index} < end\``);
  }
  const inc = s.getIncrementor();
  let step: KExpr = { kind: "num", value: 1, text: "1", span };
  if (inc && Node.isBinaryExpression(inc) && inc.getOperatorToken().getText() === "+=" && inc.getLeft().getText() === index) step = parseExpr(inc.getRight());
  else if (!(inc && (Node.isPostfixUnaryExpression(inc) || Node.isPrefixUnaryExpression(inc)) && inc.getText().replace(/\+\+/, "") === index)) {
    throw compileError(span, `for loops step with \`${index}++\` or \`${index} += step\``);
  }
  return { kind: "for", index, start: parseExpr(decl.getInitializerOrThrow()), end: parseExpr(cond.getRight()), step, body: parseBlock(s.getStatement()), span };
}

function asArrow(node: Node | undefined, span: Span): ArrowFunction {
  if (!node || !Node.isArrowFunction(node)) throw compileError(span, "expected an arrow function `(i) => ...`");
  return node;
}

function singleParam(fn: ArrowFunction, span: Span): string {
  const ps = fn.getParameters();
  if (ps.length !== 1) throw compileError(span, "the loop body takes exactly one index parameter");
  return ps[0].getName();
}

function arrowResult(fn: ArrowFunction): Expression {
  const body = fn.getBody();
  if (Node.isBlock(body)) {
    const stmts = body.getStatements();
    const ret = stmts[0];
    if (stmts.length !== 1 || !Node.isReturnStatement(ret) || !ret.getExpression()) throw compileError(spanOf(body), "expected a single expression or `{ return expr; }`");
    return ret.getExpressionOrThrow();
  }
  return body as Expression;
}

const binaryOps = new Set<string>(["+", "-", "*", "/", "%", "<", "<=", ">", ">=", "==", "!=", "===", "!==", "&&", "||", "&", "|", "^", "<<", ">>"]);

export function parseExpr(e: Expression): KExpr {
  const span = spanOf(e);
  if (Node.isParenthesizedExpression(e)) return parseExpr(e.getExpression());
  if (Node.isNumericLiteral(e)) return { kind: "num", value: e.getLiteralValue(), text: e.getText(), span };
  if (Node.isIdentifier(e)) return e.getText() === "Infinity" ? { kind: "infinity", negative: false, span } : { kind: "ident", name: e.getText(), span };
  if (Node.isPrefixUnaryExpression(e)) {
    const op = e.getOperatorToken();
    const operand = parseExpr(e.getOperand());
    if (op === SyntaxKind.MinusToken) return operand.kind === "infinity" ? { ...operand, negative: !operand.negative, span } : { kind: "unary", op: "-", operand, span };
    if (op === SyntaxKind.ExclamationToken) return { kind: "unary", op: "!", operand, span };
    if (op === SyntaxKind.PlusToken) return operand;
    throw compileError(span, "unsupported unary operator");
  }
  if (Node.isBinaryExpression(e)) {
    const raw = e.getOperatorToken().getText();
    if (!binaryOps.has(raw)) throw compileError(span, `unsupported operator "${raw}" in a kernel expression`);
    const op = (raw === "===" ? "==" : raw === "!==" ? "!=" : raw) as BinaryOp;
    return { kind: "binary", op, left: parseExpr(e.getLeft()), right: parseExpr(e.getRight()), span };
  }
  if (Node.isConditionalExpression(e)) return { kind: "ternary", cond: parseExpr(e.getCondition()), then: parseExpr(e.getWhenTrue()), else: parseExpr(e.getWhenFalse()), span };
  if (Node.isCallExpression(e)) return parseCall(e, span);
  throw compileError(span, `unsupported expression in a kernel: ${e.getKindName()} \`${e.getText().slice(0, 40)}\``);
}

function parseCall(e: CallExpression, span: Span): KExpr {
  const callee = e.getExpression();
  const args = e.getArguments() as Expression[];
  if (Node.isPropertyAccessExpression(callee)) {
    const target = callee.getExpression().getText();
    const method = callee.getName();
    if (method === "at") return { kind: "at", target, indices: args.map(parseExpr), span };
    if (method === "dim") {
      const axis = args[0];
      if (!axis || !Node.isNumericLiteral(axis)) throw compileError(span, ".dim(axis) takes a number literal");
      return { kind: "dim", target, axis: axis.getLiteralValue(), span };
    }
    throw compileError(span, `unsupported method ".${method}()" (kernels use .at, .put and .dim)`);
  }
  const name = callee.getText();
  const reduceOps: Record<string, "sum" | "max" | "min"> = { reduceSum: "sum", reduceMax: "max", reduceMin: "min" };
  if (name in reduceOps) {
    const fn = asArrow(args[1], span);
    return { kind: "reduce", op: reduceOps[name], count: parseExpr(args[0]), index: singleParam(fn, span), term: parseExpr(arrowResult(fn)), span };
  }
  return { kind: "call", callee: name, args: args.map(parseExpr), span };
}
