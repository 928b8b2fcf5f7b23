import { killAllGroups } from './helpers';

afterAll(() => {
  killAllGroups();
});
