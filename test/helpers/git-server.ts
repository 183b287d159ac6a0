/** Tests use the same real git smart-HTTP server and repository helpers that `cairn demo` ships with. */
export * from '../../lib/local/git-http-server.js';
