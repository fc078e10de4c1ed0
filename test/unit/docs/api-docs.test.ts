/**
 * The API reference (`npm run docs`, TypeDoc over lib/index.ts) is only as good as the doc comments: every public
 * export, and every public property and method of the exported classes and interfaces, has one.
 */
import { join } from 'node:path';
import * as ts from 'typescript';

const ROOT = join(__dirname, '..', '..', '..');

function undocumented(): string[] {
  const program = ts.createProgram([join(ROOT, 'lib', 'index.ts')], { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, strict: true, skipLibCheck: true });
  const checker = program.getTypeChecker();
  const index = program.getSourceFile(join(ROOT, 'lib', 'index.ts'))!;
  const missing: string[] = [];
  const hasDoc = (symbol: ts.Symbol): boolean => symbol.getDocumentationComment(checker).length > 0 || symbol.getJsDocTags(checker).length > 0;
  for (const exported of checker.getExportsOfModule(checker.getSymbolAtLocation(index)!)) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    if (!hasDoc(symbol)) missing.push(exported.getName());
    if (!(symbol.flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Interface))) continue;
    for (const member of symbol.members ? [...symbol.members.values()] : []) {
      const declaration = member.declarations?.[0];
      if (!declaration || member.getName() === '__constructor' || member.getName().startsWith('#')) continue;
      const modifiers = ts.canHaveModifiers(declaration) ? ts.getModifiers(declaration) ?? [] : [];
      if (modifiers.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword)) continue;
      if (!hasDoc(member)) missing.push(`${exported.getName()}.${member.getName()}`);
    }
  }
  return missing.sort();
}

test('every public export of lib/index.ts and every public member of its classes and interfaces has a doc comment', () => {
  expect(undocumented()).toEqual([]);
}, 120_000);
