/** Script-tag build: `<script src="siyu.h5.min.js">` defines `window.siyu`. */
import siyu from './index';

(window as unknown as { siyu: typeof siyu }).siyu = siyu;
