import { render } from 'preact';
import { App } from './App.js';
import { installBidiGuard } from './text/neutraliseBidi.js';
import './styles.css';

// Before the first render: no text from the api is ever shown with its bidi controls applied.
installBidiGuard();
const root = document.getElementById('app');
if (root === null) throw new Error('the page has no #app element');
render(<App />, root);
