import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

const HTTP_METHODS = new Set(['Get', 'Post', 'Put', 'Delete', 'Patch', 'Options']);

interface ClassInfo {
  readonly prefix?: string;
  /** constructor parameter (field) name → its type's name */
  readonly fields: Map<string, string>;
  readonly methods: Map<string, ts.MethodDeclaration>;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

function decoratorCall(node: ts.Node, names: Set<string> | string): { name: string; argument?: string } | undefined {
  for (const decorator of ts.canHaveDecorators(node) ? (ts.getDecorators(node) ?? []) : []) {
    const call = decorator.expression;
    if (!ts.isCallExpression(call) || !ts.isIdentifier(call.expression)) continue;
    const name = call.expression.text;
    if (typeof names === 'string' ? name !== names : !names.has(name)) continue;
    const first = call.arguments[0];
    return { name, ...(first && ts.isStringLiteral(first) ? { argument: first.text } : {}) };
  }
  return undefined;
}

/** `this.a.b(…)` → ['a', 'b'], `this.b(…)` → ['b'] for every call in `node`. */
function thisCalls(node: ts.Node): string[][] {
  const calls: string[][] = [];
  const visit = (child: ts.Node): void => {
    if (ts.isCallExpression(child) && ts.isPropertyAccessExpression(child.expression)) {
      const callee = child.expression;
      if (callee.expression.kind === ts.SyntaxKind.ThisKeyword) calls.push([callee.name.text]);
      else if (ts.isPropertyAccessExpression(callee.expression) && callee.expression.expression.kind === ts.SyntaxKind.ThisKeyword) {
        calls.push([callee.expression.name.text, callee.name.text]);
      }
    }
    ts.forEachChild(child, visit);
  };
  visit(node);
  return calls;
}

/**
 * The gateway routes that send a command, as `method path` (OpenAPI's spelling: `post
 * /.p2/core/v1/register`, `{fid}` for `:fid`), read from the source: a route method that calls
 * CommandSender's `send`, directly or through methods of its own class or of the classes injected
 * into it, however deep.
 */
export function commandRoutes(sourceDir = join(__dirname, '../../apps/gateway/src')): string[] {
  const classes = new Map<string, ClassInfo>();
  for (const file of sourceFiles(sourceDir)) {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    source.forEachChild((node) => {
      if (!ts.isClassDeclaration(node) || !node.name) return;
      const fields = new Map<string, string>();
      const methods = new Map<string, ts.MethodDeclaration>();
      for (const member of node.members) {
        if (ts.isConstructorDeclaration(member)) {
          for (const parameter of member.parameters) {
            if (ts.isIdentifier(parameter.name) && parameter.type && ts.isTypeReferenceNode(parameter.type)) fields.set(parameter.name.text, parameter.type.typeName.getText(source));
          }
        } else if (ts.isMethodDeclaration(member) && ts.isIdentifier(member.name)) {
          methods.set(member.name.text, member);
        }
      }
      const prefix = decoratorCall(node, 'Controller');
      classes.set(node.name.text, { ...(prefix ? { prefix: prefix.argument ?? '' } : {}), fields, methods });
    });
  }

  const memo = new Map<string, boolean>();
  const sends = (className: string, methodName: string): boolean => {
    const key = `${className}.${methodName}`;
    if (memo.has(key)) return memo.get(key)!;
    memo.set(key, false); // a cycle sends nothing more than what its other paths send
    const info = classes.get(className);
    const method = info?.methods.get(methodName);
    if (!info || !method) return false;
    const result = thisCalls(method).some(([first, second]) => {
      if (second === undefined) return sends(className, first!);
      const type = info.fields.get(first!);
      return type === 'CommandSender' ? second === 'send' : type !== undefined && sends(type, second);
    });
    memo.set(key, result);
    return result;
  };

  const routes: string[] = [];
  for (const [className, info] of classes) {
    if (info.prefix === undefined) continue;
    for (const [methodName, method] of info.methods) {
      const verb = decoratorCall(method, HTTP_METHODS);
      if (!verb || !sends(className, methodName)) continue;
      const path = ['', info.prefix, verb.argument ?? ''].filter((part, i) => i === 0 || part !== '').join('/').replace(/:(\w+)/g, '{$1}');
      routes.push(`${verb.name.toLowerCase()} ${path}`);
    }
  }
  return routes.sort();
}
