import streamlit as st
st.write('analyst_explorer')
