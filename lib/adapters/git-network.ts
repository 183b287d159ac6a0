/**
 * The parts of isomorphic-git Cairn uses, in a module of their own so that they are loaded only
 * by the first fetch (git-source.ts imports this module dynamically): a process that reads only
 * local repositories or directories never loads the network Git client. Named imports keep a
 * bundle to these functions and what they need.
 */
export { addRemote, expandOid, fetch, init, listServerRefs } from 'isomorphic-git';
